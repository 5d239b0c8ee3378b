import { existsSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { collectGarbage } from '../collect-garbage.js';
import { loadConfig, type Config } from '../config.js';
import { BatchingDetector } from '../detector/batching-detector.js';
import { loadDetector, type DetectorSettings } from '../detector/load-detector.js';
import { findBundle } from '../model/model-bundle.js';
import { detectorSettings } from '../detector-settings.js';
import type { Detector } from '../detector/types.js';
import { createCliLogger, type Log } from '../log.js';
import { startServer } from '../http/server.js';
import { startTracing, tracingWanted } from '../http/tracing/start-tracing.js';
import { initBackend, type BackendChoice } from '../model/backend.js';

/** A repository's bundle, served under the name it was loaded by: its own models/ and reference-sets/. */
async function bundleSettings(repository: string, name: string, config: Config): Promise<DetectorSettings> {
  const bundle = await findBundle(repository, name);
  return { ...detectorSettings({ ...config, model: bundle.model }), modelsDir: bundle.modelsDir, referenceSetsDir: bundle.referenceSetsDir, servedAs: name };
}

/**
 * How the service loads a model, at start and at every reload: the detector on its scoring
 * threads, behind the dynamic batcher.
 */
export function serviceDetectorLoader(config: Config): (model: string, log: Log) => Promise<Detector> {
  // Chosen once: a reload swaps models, never backends.
  let backend: Promise<BackendChoice> | undefined;
  return async (model, log) => {
    if (!backend) {
      backend = initBackend(config.backend);
      const choice = await backend;
      log.info({ backend: choice.backend, skipped: choice.skipped }, 'tfjs backend ready');
    }
    await backend;
    const settings = config.modelRepository === undefined ? detectorSettings({ ...config, model }) : await bundleSettings(config.modelRepository, model, config);
    const detector = await loadDetector(settings, log);
    // What the load read or built and no longer needs goes now, not at the heap's next squeeze.
    const ms = collectGarbage();
    if (ms === undefined) log.warn('no garbage collection after the load: the runtime refused --expose-gc');
    else log.info({ ms: +ms.toFixed(1) }, 'collected what the load left behind');
    return new BatchingDetector(detector, { ...config.batching, concurrency: Math.max(1, settings.scoringThreads) });
  };
}

/**
 * `npm start`: the service on the model named by OOD_MODEL (default: the embedded mnist model).
 * `serve --model NAME` names it on the command line instead, for platforms that template a
 * container's arguments but not its environment (a KServe ServingRuntime's `{{.Name}}`).
 * `--seed-cache DIR` first copies a warm cache (npm run warm) into OOD_CACHE_DIR, for platforms
 * that hand the model over on a read-only volume: the service still needs a cache it can write.
 */
export async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, 'seed-cache': { type: 'string' } }, strict: true });
  const config = loadConfig(values.model === undefined ? process.env : { ...process.env, OOD_MODEL: values.model, OOD_MODELS: undefined });
  const seed = values['seed-cache'];
  if (seed !== undefined) {
    const log = createCliLogger(config.logLevel);
    if (existsSync(seed)) {
      // Entries already there are kept: they are as valid as the seed's, and may be newer.
      await cp(seed, config.cacheDir, { recursive: true, force: false, errorOnExist: false });
      log.info({ from: seed, cacheDir: config.cacheDir }, 'cache seeded');
    } else {
      log.warn({ from: seed }, 'no cache to seed from: the graphs are built at start');
    }
  }
  // Tracing is on only when OTEL_TRACES_EXPORTER asks for it; the SDK reads the other OTEL_* itself.
  const tracing = tracingWanted(process.env) ? await startTracing({ log: createCliLogger(config.logLevel) }) : undefined;
  await startServer({ config, loadDetector: serviceDetectorLoader(config), ...(tracing ? { tracing } : {}) });
  // The server keeps the process alive; close-with-grace ends it on a signal.
  return 0;
}
