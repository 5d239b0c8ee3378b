import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { DetectorHost, ModelRepository } from '../lifecycle/index.js';
import detectorPlugin from './plugins/detector.js';
import authPlugin from './plugins/auth.js';
import closeConnectionsPlugin from './plugins/close-connections.js';
import drainPlugin from './plugins/drain.js';
import errorHandlerPlugin, { sendFrameworkError } from './plugins/error-handler.js';
import loadSheddingPlugin, { type LoadSheddingOptions } from './plugins/load-shedding.js';
import driftPlugin from './plugins/drift.js';
import grpcPlugin from './plugins/grpc.js';
import metricsPlugin from './plugins/metrics.js';
import openApiPlugin from './plugins/openapi.js';
import adminRoutes, { type AdminRoutesOptions } from './routes/admin.js';
import healthzRoute from './routes/healthz.js';
import metricsRoute from './routes/metrics.js';
import modelsRoute from './routes/models.js';
import predictRoute from './routes/predict.js';
import readyzRoute from './routes/readyz.js';
import scoringPlugin from './plugins/scoring.js';
import repositoryPlugin from './plugins/repository.js';
import repositoryRoutes from './routes/repository.js';
import tfServingRoutes from './routes/tf-serving.js';
import v2Routes from './routes/v2.js';
import reviewRoutes from './routes/review.js';
import driftRoutes from './routes/drift.js';
import { ReviewStore } from './review/review-store.js';
import { SERVICE_VERSION } from '../service-version.js';
import type { Tracing } from './tracing/start-tracing.js';

export interface BuildAppOptions {
  host: DetectorHost;
  /** Most instances accepted in one inference request, whichever the protocol. */
  maxBatch: number;
  bodyLimitBytes: number;
  /** Bearer tokens for the inference, review and admin routes; none (the default) means no authentication, and admin routes closed. */
  apiTokens?: string[];
  /** When to shed the inference routes (every protocol's) with 503 OVERLOADED; absent means never. */
  loadShedding?: LoadSheddingOptions;
  /** On close, how long to keep serving unready before the listener closes (see plugins/drain.ts). */
  drainDelayMs?: number;
  /** Enables the reload endpoints (POST/GET /admin/reload). */
  admin?: AdminRoutesOptions;
  /** False when /metrics is served on its own port instead (see server.ts). */
  exposeMetrics?: boolean;
  /** Flagged inputs kept per model for the review page; 0 or absent turns it off. */
  reviewSize?: number;
  /** The drift alarm's false-alarm bound (OOD_DRIFT_DELTA); 0.01 when absent. */
  driftDelta?: number;
  /** Models loaded and unloaded by name (OOD_MODEL_REPOSITORY), through gRPC's repository methods; absent: off. */
  repository?: ModelRepository;
  /** Repository calls from this host's loopback need no token (OOD_REPOSITORY_TRUST_LOOPBACK). */
  repositoryTrustLoopback?: boolean;
  /** gRPC beside REST (server.ts makes it listen); absent: off. */
  grpc?: { maxMessageBytes: number };
  /** OpenTelemetry, when OTEL_TRACES_EXPORTER asks for it (http/tracing/start-tracing.ts); absent: no spans, and no SDK loaded. */
  tracing?: Tracing;
  /** Fastify logger options; off by default so tests stay quiet. */
  logger?: FastifyServerOptions['logger'] | boolean;
}

const DEFAULT_DRIFT_DELTA = 0.01;

/** A route as the app registered it. */
export interface RegisteredRoute {
  method: string;
  url: string;
  requiresAuth: boolean;
  admin: boolean;
  /** Loads and unloads models: a token, or this host's loopback when trusted. */
  repository: boolean;
  shed: boolean;
  /** Left out of the OpenAPI document (assets, the document itself). */
  hidden: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    registeredRoutes(): readonly RegisteredRoute[];
  }
}

/** Builds the plugin graph; never listens (server.ts does), so tests drive it with inject(). */
export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: opts.bodyLimitBytes,
    // Fastify's closing fast path answers with its own 503 body; the detector plugin answers
    // NOT_READY in our format instead.
    return503OnClosing: false,
    frameworkErrors: sendFrameworkError,
  });

  // Every route as registered, with the flags that decide its auth and shedding, so the docs
  // can be checked against what the app really serves (test/docs/readme-tables.test.ts).
  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const config = (route.config ?? {}) as { requiresAuth?: boolean; admin?: boolean; repository?: boolean; shedUnderPressure?: boolean };
    const hidden = (route.schema as { hide?: boolean } | undefined)?.hide === true;
    for (const method of methods) {
      if (method === 'HEAD') continue;
      routes.push({
        method,
        url: route.url,
        requiresAuth: config.requiresAuth === true,
        admin: config.admin === true,
        repository: config.repository === true,
        shed: config.shedUnderPressure === true,
        hidden,
      });
    }
  });
  app.decorate('registeredRoutes', () => routes);

  // First, so that every route and hook registered after it is traced.
  if (opts.tracing) {
    await app.register(opts.tracing.fastifyPlugin);
    // Last of all (fastify runs onClose hooks in reverse), and bounded: a collector that is down
    // costs the spans still buffered, never the shutdown.
    app.addHook('onClose', async () => {
      await opts.tracing?.shutdown().catch((err: unknown) => app.log.warn({ err }, 'tracing: the last spans were not sent'));
    });
  }

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // The API speaks JSON only; without this, text/plain bodies would reach validation as strings
  // and be answered 400 instead of 415.
  app.removeContentTypeParser('text/plain');

  await app.register(errorHandlerPlugin);
  await app.register(closeConnectionsPlugin);
  await app.register(drainPlugin, { delayMs: opts.drainDelayMs ?? 0 });
  if (opts.loadShedding) await app.register(loadSheddingPlugin, opts.loadShedding);
  else app.decorate('shedIfOverloaded', () => undefined);
  await app.register(authPlugin, { tokens: opts.apiTokens ?? [], trustLoopback: opts.repositoryTrustLoopback ?? false });
  await app.register(detectorPlugin, { host: opts.host });
  await app.register(metricsPlugin);
  await app.register(driftPlugin, { delta: opts.driftDelta ?? DEFAULT_DRIFT_DELTA });
  await app.register(scoringPlugin, { maxBatch: opts.maxBatch, ...(opts.reviewSize ? { review: new ReviewStore(opts.reviewSize) } : {}) });

  await app.register(openApiPlugin, { version: SERVICE_VERSION });

  await app.register(healthzRoute);
  await app.register(readyzRoute);
  if (opts.exposeMetrics ?? true) await app.register(metricsRoute);
  await app.register(modelsRoute);
  await app.register(predictRoute);
  await app.register(v2Routes, { serverVersion: SERVICE_VERSION });
  await app.register(tfServingRoutes);
  await app.register(reviewRoutes);
  await app.register(driftRoutes);
  if (opts.admin) await app.register(adminRoutes, opts.admin);
  await app.register(repositoryPlugin, opts.repository ? { repository: opts.repository } : {});
  await app.register(repositoryRoutes);
  if (opts.grpc) await app.register(grpcPlugin, { ...opts.grpc, serverVersion: SERVICE_VERSION, traced: opts.tracing !== undefined });
  else app.decorate('grpc', undefined);

  return app;
}
