import closeWithGrace from 'close-with-grace';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import type { ReloadStatus } from '../detector/reloader.js';
import type { Detector } from '../detector/types.js';
import { loadApiTokens } from './api-tokens.js';
import { buildApp } from './app.js';
import { buildMetricsApp } from './metrics-app.js';
import { ServedModels, type ServedModel } from './served-models.js';

export interface StartServerOptions {
  config: Config;
  /** Loads the named model and builds or reads every index; may take a while on a cold cache. Called once per served model. */
  loadDetector: (model: string, log: FastifyBaseLogger) => Promise<Detector>;
  /** Called with 1 when the detector fails to load at start-up; defaults to process.exit. */
  exit?: (code: number) => void;
}

export interface RunningServer {
  app: FastifyInstance;
  /** Set when /metrics has a port of its own (OOD_METRICS_PORT). */
  metricsApp?: FastifyInstance;
  models: ServedModels;
  close: () => Promise<void>;
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

  let closed = false;
  const models: ServedModels = new ServedModels({
    models: config.models,
    // The reloaders report to the server's log and metrics; none starts before the server exists.
    load: (model) => opts.loadDetector(model, server.log.child({ model })),
    onOutcome: (served, outcome, status, loadSeconds) => onLoaded(served, outcome, status, loadSeconds),
    onDisposeError: (err) => server.log.error({ err }, 'freeing a retired detector failed'),
  });

  const onLoaded = (served: ServedModel, outcome: 'success' | 'failure', status: ReloadStatus, loadSeconds: number) => {
    const { trigger, model, version, error } = status;
    if (trigger !== 'startup') server.metrics.recordReload(outcome, served.name());
    if (outcome === 'success') {
      served.loadError = undefined;
      const info = served.slot.detector()?.info;
      server.log.info(
        { trigger, model, version, backend: info?.backend, referenceSize: info?.reference_size, loadSeconds },
        trigger === 'startup' ? 'model ready' : 'reload done: serving the new model',
      );
      return;
    }
    // A shutdown during a load aborts it; that is neither a start-up nor a reload failure.
    if (closed) return;
    if (served.slot.detector()) {
      server.log.error({ trigger, model, error }, 'reload failed: the previous model keeps serving');
      return;
    }
    // Nothing serves this model, whichever load this was (a SIGHUP can beat the start-up load
    // to it): a server that cannot serve every model it was given should restart, not linger.
    served.loadError = error;
    server.log.fatal({ model }, `failed to load model "${model}": ${error}`);
    const bound = new Promise((resolve) => setTimeout(resolve, config.shutdownTimeoutMs).unref());
    Promise.race([closeAll(), bound])
      .catch((closeErr: unknown) => server.log.error({ err: closeErr }, 'close failed'))
      .finally(() => exit(1));
  };

  const apiTokens = await loadApiTokens(config.apiTokens, config.apiTokensFile);
  const logger = { level: config.logLevel };
  const server = await buildApp({
    host: models,
    maxBatch: config.maxBatch,
    bodyLimitBytes: config.bodyLimitBytes,
    apiTokens,
    loadShedding: config.loadShedding,
    admin: { reloads: models },
    exposeMetrics: config.metricsPort === undefined,
    drainDelayMs: config.drainDelayMs,
    reviewSize: config.reviewSize,
    logger,
  });
  const metricsApp = config.metricsPort === undefined ? undefined : await buildMetricsApp(server.metrics.registry, logger);
  // The count only: tokens never reach a log line.
  server.log.info(
    { tokens: apiTokens.length },
    apiTokens.length ? 'bearer authentication on for /predict and /admin' : 'authentication off; /admin answers 403',
  );

  // Every model reloads what serves in its slot now (after a switch, the new one).
  if (config.reviewSize > 0 && apiTokens.length === 0) {
    server.log.warn('OOD_REVIEW_SIZE is set without tokens: anyone who reaches the port can see recent flagged inputs at /review');
  }

  const onHangup = () => {
    for (const served of models.all()) {
      const model = served.name();
      const start = models.start(model, 'sighup');
      if (start?.started) server.log.info({ model }, 'SIGHUP: reloading in the background');
      else server.log.warn({ status: start?.status }, 'SIGHUP ignored: a load is already running or the server is closing');
    }
  };
  // close-with-grace would treat SIGHUP as "exit"; here it means "reload".
  const graceful = closeWithGrace(
    { delay: config.shutdownTimeoutMs, logger: server.log, skip: ['SIGHUP'] },
    async ({ signal, err }) => {
      if (err) server.log.error({ err }, 'closing after an unhandled error');
      else server.log.info({ signal, inFlight: server.drainCounts().inFlight }, 'closing: not ready, finishing accepted requests');
      await closeAll();
      // The proof that a drain dropped nothing: every request that reached the server while it
      // closed ended with its whole response sent (unfinished 0), and none is left (inFlight 0).
      const { answered, unfinished, inFlight } = server.drainCounts();
      server.log.info({ answered, unfinished, inFlight }, 'closed');
    },
  );
  process.on('SIGHUP', onHangup);
  // No reload may start a build once closing begins: it would compete with the requests being
  // finished, and its result would be thrown away. Also on onClose, for an app.close() made directly.
  const stopReloads = () => {
    // From here a load that ends, however, is the shutdown's doing, not a failure to report.
    closed = true;
    process.removeListener('SIGHUP', onHangup);
    models.closeReloads();
  };

  server.addHook('onClose', async () => {
    closed = true;
    graceful.uninstall();
    stopReloads();
    // onClose runs after in-flight requests finish; a slot disposes once its last lease is back.
    models.retireAll();
  });

  // The metrics port closes last, so the drain's own series can still be scraped.
  const closeAll = async () => {
    stopReloads();
    await server.close();
    await metricsApp?.close();
  };

  try {
    await server.listen({ port: config.port, host: config.host });
    if (metricsApp) await metricsApp.listen({ port: config.metricsPort, host: config.host });
  } catch (err) {
    await closeAll();
    throw err;
  }

  for (const model of config.models) {
    const start = models.start(model, 'startup');
    if (start?.started) server.log.info({ model }, 'loading the model and its indexes');
    else server.log.info({ status: start?.status }, 'a load started by a signal or request is already running; it is the first');
  }

  return { app: server, ...(metricsApp ? { metricsApp } : {}), models, close: closeAll };
}
