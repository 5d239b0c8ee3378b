import { context, diag, DiagLogLevel, propagation, trace } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import type { FastifyPluginCallback } from 'fastify';
import { OodError } from '../../errors.js';

/** The standard variable that turns tracing on; everything else about it (endpoint, service name, sampler) the SDK reads itself. */
export const TRACES_EXPORTER = 'OTEL_TRACES_EXPORTER';
/** What the SDK can export to (zipkin too: its exporter ships with the SDK). */
export const TRACE_EXPORTERS = ['otlp', 'console', 'zipkin', 'none'];
/** How long a close waits for the last spans to leave; an unreachable collector must not hold a shutdown. */
export const TRACING_SHUTDOWN_MS = 2000;

/** Paths that every probe and scrape hits: a span each would bury the requests. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics', '/v2/health/live', '/v2/health/ready']);

export interface Tracing {
  /** Registered first on the app, so every route gets its server span. */
  fastifyPlugin: FastifyPluginCallback;
  /** Sends the spans still buffered, and stops; gives up after TRACING_SHUTDOWN_MS. */
  shutdown(): Promise<void>;
}

export interface TracingLog {
  warn(message: string): void;
}

/**
 * Whether to trace: only when OTEL_TRACES_EXPORTER names an exporter, and OTEL_SDK_DISABLED is not
 * true. The SDK alone would default to OTLP when the variable is unset; the service stays off
 * instead, so that with nothing set no SDK is even loaded and the API stays a no-op.
 */
export function tracingWanted(env: Record<string, string | undefined>): boolean {
  const value = env[TRACES_EXPORTER]?.trim();
  if (!value || env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = value.split(',').map((e) => e.trim());
  const refuse = (why: string) => new OodError('CONFIG_INVALID', `Invalid configuration: ${TRACES_EXPORTER}=${JSON.stringify(value)}: ${why}`);
  const unknown = exporters.filter((e) => !TRACE_EXPORTERS.includes(e));
  if (unknown.length > 0) throw refuse(`${unknown.join(', ')} is not one of ${TRACE_EXPORTERS.join(', ')}`);
  // The SDK reads "none" beside another exporter in ways of its own (otlp instead, or nothing).
  if (exporters.includes('none') && exporters.length > 1) throw refuse('none cannot be listed with other exporters');
  return exporters[0] !== 'none';
}

/** The service.name default, unless the standard variables name one. */
function serviceNameDefault(env: Record<string, string | undefined>): { serviceName?: string } {
  if (env.OTEL_SERVICE_NAME || /(^|,)\s*service\.name\s*=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? '')) return {};
  return { serviceName: 'ood-service' };
}

/**
 * OpenTelemetry's Node SDK, configured by the standard OTEL_* variables (exporter, endpoint,
 * service name, sampler, propagators), with @fastify/otel for the HTTP server spans; gRPC
 * server spans and the scoring path's spans are the service's own (spans.ts). Traces only: no
 * metrics or logs exporters (Prometheus has the metrics). Loaded on demand, so a service that
 * does not trace never loads the SDK. Tests pass their own span processor.
 */
export async function startTracing(options: { spanProcessors?: SpanProcessor[]; env?: Record<string, string | undefined>; log?: TracingLog } = {}): Promise<Tracing> {
  const env = options.env ?? process.env;
  const [{ NodeSDK }, { FastifyOtelInstrumentation }] = await Promise.all([import('@opentelemetry/sdk-node'), import('@fastify/otel')]);
  if (options.log) {
    const warn = options.log.warn.bind(options.log);
    // An exporter that cannot reach its collector says so here, instead of dropping spans silently.
    diag.setLogger({ error: (m) => warn(`OpenTelemetry: ${m}`), warn: (m) => warn(`OpenTelemetry: ${m}`), info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
  }
  // A span per request and one for its handler; a span for each of the app's dozen hooks would
  // bury the scoring path's spans.
  const fastifyOtel = new FastifyOtelInstrumentation({ registerOnInitialization: false, instrumentHooks: false, ignorePaths: ({ url }) => UNTRACED_PATHS.has(url.split('?')[0]) });
  const sdk = new NodeSDK({
    instrumentations: [fastifyOtel],
    metricReaders: [],
    logRecordProcessors: [],
    ...serviceNameDefault(env),
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
  });
  sdk.start();
  return {
    fastifyPlugin: fastifyOtel.plugin() as unknown as FastifyPluginCallback,
    async shutdown() {
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`spans still unsent after ${TRACING_SHUTDOWN_MS} ms`)), TRACING_SHUTDOWN_MS);
      });
      try {
        await Promise.race([sdk.shutdown(), limit]);
      } finally {
        clearTimeout(timer);
        // A later start in the same process (tests) must find the globals free.
        trace.disable();
        context.disable();
        propagation.disable();
        diag.disable();
      }
    },
  };
}
