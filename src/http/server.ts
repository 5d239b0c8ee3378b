import closeWithGrace from 'close-with-grace';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import type { Detector } from '../detector/types.js';
import { loadApiTokens } from './api-tokens.js';
import { buildApp } from './app.js';
import type { DetectorHost } from './detector-host.js';

/** How long in-flight requests get to finish after SIGTERM/SIGINT before the process exits anyway. */
const GRACEFUL_CLOSE_MS = 10_000;

export interface StartServerOptions {
  config: Config;
  /** Loads the model and builds or reads every index; may take a while on a cold cache. */
  loadDetector: (log: FastifyBaseLogger) => Promise<Detector>;
  /** Called with 1 when the detector fails to load; defaults to process.exit. */
  exit?: (code: number) => void;
}

export interface RunningServer {
  app: FastifyInstance;
  close: () => Promise<void>;
}

/**
 * Listens first and loads the detector in the background, so a long cold start shows as
 * /healthz 200 + /readyz 503 rather than a port that refuses connections. A failed load is
 * fatal: the process exits 1 after logging why, since a server that can never become ready
 * should restart rather than linger.
 */
export async function startServer(opts: StartServerOptions): Promise<RunningServer> {
  const { config } = opts;
  const exit = opts.exit ?? ((code: number) => process.exit(code));

  let detector: Detector | undefined;
  let loadError: string | undefined;
  const host: DetectorHost = { detector: () => detector, lastError: () => loadError };

  const apiTokens = await loadApiTokens(config.apiTokens, config.apiTokensFile);
  const app = await buildApp({
    host,
    maxBatch: config.maxBatch,
    bodyLimitBytes: config.bodyLimitBytes,
    apiTokens,
    loadShedding: config.loadShedding,
    logger: { level: config.logLevel },
  });
  // The count only: tokens never reach a log line.
  app.log.info({ tokens: apiTokens.length }, apiTokens.length ? 'bearer authentication on for /predict' : 'authentication off');

  const graceful = closeWithGrace({ delay: GRACEFUL_CLOSE_MS, logger: app.log }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'closing after an unhandled error');
    else app.log.info({ signal }, 'closing');
    await app.close();
  });
  let closed = false;
  app.addHook('onClose', async () => {
    closed = true;
    graceful.uninstall();
    // onClose runs after in-flight requests finish, so nothing still uses the graphs or weights.
    detector?.dispose?.();
    detector = undefined;
  });

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await app.close();
    throw err;
  }

  const loadLog = app.log.child({ model: config.model });
  const startedAt = performance.now();
  loadLog.info('loading the model and its indexes');
  // Through then() so a loader that throws synchronously is handled like one that rejects.
  Promise.resolve()
    .then(() => opts.loadDetector(loadLog))
    .then(
      (loaded) => {
        if (closed) {
          loaded.dispose?.();
          return;
        }
        detector = loaded;
        const { name, version, backend, reference_size: referenceSize } = loaded.info;
        const loadSeconds = (performance.now() - startedAt) / 1000;
        loadLog.info({ name, version, backend, referenceSize, loadSeconds }, 'model ready');
      },
      async (err: unknown) => {
        // A shutdown during a cold start may abort the load; that is not a start-up failure.
        if (closed) return;
        loadError = err instanceof Error ? err.message : String(err);
        loadLog.fatal({ err }, `failed to load model "${config.model}": ${loadError}`);
        await app.close().catch((closeErr: unknown) => loadLog.error({ err: closeErr }, 'close failed'));
        exit(1);
      },
    );

  return { app, close: () => app.close() };
}
