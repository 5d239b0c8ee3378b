import closeWithGrace from 'close-with-grace';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import type { Detector } from '../detector/types.js';
import { loadApiTokens } from './api-tokens.js';
import { buildApp } from './app.js';
import { buildMetricsApp } from './metrics-app.js';
import type { Tracing } from './tracing/start-tracing.js';
import { HangupReloads, ModelRepository, ServedModels, type ServedModelsHandlers } from '../lifecycle/index.js';
import { findBundle } from '../model/model-bundle.js';

export interface StartServerOptions {
  config: Config;
  /** Loads the named model and builds or reads every index; may take a while on a cold cache. Called once per served model. */
  loadDetector: (model: string, log: FastifyBaseLogger) => Promise<Detector>;
  /** Called with 1 when the detector fails to load at start-up; defaults to process.exit. */
  exit?: (code: number) => void;
  /** OpenTelemetry, started by the caller; absent: no tracing. */
  tracing?: Tracing;
}

export interface RunningServer {
  app: FastifyInstance;
  /** Set when /metrics has a port of its own (OOD_METRICS_PORT). */
  metricsApp?: FastifyInstance;
  models: ServedModels;
  close: () => Promise<void>;
}

/** The API app and, when /metrics has a port of its own, the metrics app; neither listens yet. */
async function buildApps(config: Config, models: ServedModels, apiTokens: string[], tracing: Tracing | undefined) {
  const logger = { level: config.logLevel };
  const repository = config.modelRepository;
  const app = await buildApp({
    host: models,
    ...(repository !== undefined ? { repository: new ModelRepository(models, { locate: (name) => findBundle(repository, name) }) } : {}),
    repositoryTrustLoopback: config.repositoryTrustLoopback,
    maxBatch: config.maxBatch,
    bodyLimitBytes: config.bodyLimitBytes,
    apiTokens,
    loadShedding: config.loadShedding,
    admin: { reloads: models },
    exposeMetrics: config.metricsPort === undefined,
    drainDelayMs: config.drainDelayMs,
    reviewSize: config.reviewSize,
    driftDelta: config.driftDelta,
    ...(config.grpcPort !== 0 ? { grpc: { maxMessageBytes: config.bodyLimitBytes } } : {}),
    ...(tracing ? { tracing } : {}),
    logger,
  });
  const metricsApp = config.metricsPort === undefined ? undefined : await buildMetricsApp(app.metrics.registry, logger);
  return { app, metricsApp };
}

function logAccess(log: FastifyBaseLogger, tokens: number, reviewSize: number): void {
  // The count only: tokens never reach a log line.
  log.info({ tokens }, tokens ? 'bearer authentication on for the inference, review and admin routes' : 'authentication off; /admin answers 403');
  if (reviewSize > 0 && tokens === 0) {
    log.warn('OOD_REVIEW_SIZE is set without tokens: anyone who reaches the port can see recent flagged inputs at /review');
  }
}

interface ShutdownParts {
  app: FastifyInstance;
  metricsApp: FastifyInstance | undefined;
  models: ServedModels;
  hangup: HangupReloads;
  /** How long a close may take before the process exits anyway. */
  timeoutMs: number;
  exit: (code: number) => void;
}

/**
 * Closing, in one order however it begins (a signal, an unhandled error, a start-up load that
 * failed, a port that was taken, or close() from the caller): reloads stop, the API port drains
 * and closes, the models retire, and the metrics port closes last.
 */
class Shutdown {
  private begun = false;
  private graceful: { uninstall(): void } | undefined;

  constructor(private readonly parts: ShutdownParts) {}

  /** From here a load that ends, however, is the shutdown's doing, not a failure to report. */
  get closing(): boolean {
    return this.begun;
  }

  // No reload may start a build once closing begins: it would compete with the requests being
  // finished, and its result would be thrown away.
  private stopReloads(): void {
    this.begun = true;
    this.parts.hangup.ignore();
    this.parts.models.closeReloads();
    // Its callers waiting on a build hear at once; the drain would otherwise wait on the build.
    this.parts.app.repository?.close();
  }

  /**
   * `exiting`: the process ends right after, so the SIGHUP listener stays (ignoring) to the
   * end; removed any earlier, a SIGHUP would end the process with 129 before it exits itself.
   */
  async closeAll(exiting = false): Promise<void> {
    this.stopReloads();
    const { app } = this.parts;
    // A close that takes long says what it waits on, before the grace period's timeout ends it.
    const watch = setInterval(() => {
      app.server.getConnections((err, open) => {
        app.log.warn({ openConnections: err ? undefined : open, listening: app.server.listening, ...app.drainCounts() }, 'closing: still waiting');
      });
    }, 2000).unref();
    try {
      await app.close();
      // The metrics port closes last, so the drain's own series can still be scraped.
      await this.parts.metricsApp?.close();
    } finally {
      clearInterval(watch);
    }
    if (!exiting) this.parts.hangup.uninstall();
  }

  /**
   * For a server that can never become ready: it should restart rather than linger, and a close
   * that hangs must not keep it from doing so.
   */
  closeThenExit(code: number): void {
    const { app, timeoutMs, exit } = this.parts;
    const bound = new Promise((resolve) => setTimeout(resolve, timeoutMs).unref());
    Promise.race([this.closeAll(true), bound])
      .catch((closeErr: unknown) => app.log.error({ err: closeErr }, 'close failed'))
      .finally(() => exit(code));
  }

  private afterAppClose(): void {
    this.begun = true;
    this.graceful?.uninstall();
    this.stopReloads();
    // onClose runs after in-flight requests finish; a slot disposes once its last lease is back.
    this.parts.models.retireAll();
  }

  /** Closes on SIGINT, SIGTERM or an unhandled error, and frees the models once the app has closed. */
  install(): void {
    const { app, timeoutMs } = this.parts;
    // close-with-grace would treat SIGHUP as "exit"; here it means "reload".
    this.graceful = closeWithGrace({ delay: timeoutMs, logger: app.log, skip: ['SIGHUP'] }, async ({ signal, err }) => {
      if (err) app.log.error({ err }, 'closing after an unhandled error');
      else app.log.info({ signal, inFlight: app.drainCounts().inFlight }, 'closing: not ready, finishing accepted requests');
      await this.closeAll(true);
      // The proof that a drain dropped nothing: every request that reached the server while it
      // closed ended with its whole response sent (unfinished 0), and none is left (inFlight 0).
      const { answered, unfinished, inFlight } = app.drainCounts();
      app.log.info({ answered, unfinished, inFlight }, 'closed');
    });
    // Also here, not only in closeAll, for an app.close() made directly.
    app.addHook('onClose', async () => this.afterAppClose());
  }
}

/**
 * Logs and counts each finished load. A failed reload is not fatal: the old model keeps serving.
 * A model that nothing serves is: a server that cannot serve every model it was given should
 * restart, not linger.
 */
function loadOutcomeHandler(app: FastifyInstance, models: ServedModels, shutdown: Shutdown): ServedModelsHandlers['onOutcome'] {
  return (served, outcome, status, loadSeconds) => {
    const { trigger, model, version, error } = status;
    // Unloaded while it loaded: what it built is gone, and its series must not come back.
    if (!models.all().includes(served)) {
      app.log.info({ trigger, model }, 'a load ended after its model was unloaded; what it built is freed');
      return;
    }
    // A repository's load is its caller's to count (ood_grpc_request_duration_seconds by code).
    if (trigger !== 'startup' && trigger !== 'repository') app.metrics.recordReload(outcome, served.name());
    if (outcome === 'success') {
      served.loadError = undefined;
      const info = served.slot.detector()?.info;
      app.log.info(
        { trigger, model, version, backend: info?.backend, referenceSize: info?.reference_size, loadSeconds },
        trigger === 'startup' || trigger === 'repository' ? 'model ready' : 'reload done: serving the new model',
      );
      return;
    }
    // A shutdown during a load aborts it; that is neither a start-up nor a reload failure.
    if (shutdown.closing) return;
    if (served.slot.detector()) {
      app.log.error({ trigger, model, error }, 'reload failed: the previous model keeps serving');
      return;
    }
    // A repository's model that fails is the load call's failure, answered to its caller; the
    // server goes on serving the others.
    if (served.origin === 'repository') {
      app.log.error({ trigger, model, error }, 'repository load failed: the model is not served');
      return;
    }
    // Nothing serves this model, whichever load this was (a SIGHUP can beat the start-up load to it).
    served.loadError = error;
    app.log.fatal({ model }, `failed to load model "${model}": ${error}`);
    shutdown.closeThenExit(1);
  };
}

/** Listens on the API port, then the metrics port; on failure closes both, so nothing is left listening. */
async function listen(config: Config, app: FastifyInstance, metricsApp: FastifyInstance | undefined, shutdown: Shutdown): Promise<void> {
  try {
    await app.listen({ port: config.port, host: config.host });
    if (app.grpc) {
      const port = await app.grpc.listen(config.grpcPort, config.grpcHost ?? config.host);
      app.log.info({ port, host: config.grpcHost ?? config.host }, 'gRPC (inference.GRPCInferenceService, grpc.health.v1.Health) listening');
    }
    if (metricsApp) await metricsApp.listen({ port: config.metricsPort, host: config.host });
  } catch (err) {
    await shutdown.closeAll();
    throw err;
  }
}

function startLoads(models: ServedModels, names: readonly string[], log: FastifyBaseLogger): void {
  for (const model of names) {
    const start = models.start(model, 'startup');
    if (start?.started) log.info({ model }, 'loading the model and its indexes');
    else log.info({ status: start?.status }, 'a load started by a signal or request is already running; it is the first');
  }
}

/**
 * Listens first and loads the detector in the background, so a long cold start shows as
 * /healthz 200 + /readyz 503 rather than a port that refuses connections. A failed start-up load
 * is fatal: the process exits 1 after logging why, since a server that can never become ready
 * should restart rather than linger. A failed *reload* is not: the old model keeps serving.
 */
export async function startServer(opts: StartServerOptions): Promise<RunningServer> {
  const { config } = opts;
  const exit = opts.exit ?? ((code: number) => process.exit(code));

  const models = new ServedModels(config.models);
  const apiTokens = await loadApiTokens(config.apiTokens, config.apiTokensFile);
  const { app, metricsApp } = await buildApps(config, models, apiTokens, opts.tracing);
  logAccess(app.log, apiTokens.length, config.reviewSize);

  const hangup = new HangupReloads(models, app.log);
  const shutdown = new Shutdown({ app, metricsApp, models, hangup, timeoutMs: config.shutdownTimeoutMs, exit });
  models.attach({
    load: (model) => opts.loadDetector(model, app.log.child({ model })),
    onOutcome: loadOutcomeHandler(app, models, shutdown),
    onDisposeError: (err) => app.log.error({ err }, 'freeing a retired detector failed'),
  });
  shutdown.install();
  hangup.install();

  await listen(config, app, metricsApp, shutdown);
  startLoads(models, config.models, app.log);

  return { app, ...(metricsApp ? { metricsApp } : {}), models, close: () => shutdown.closeAll() };
}
