import { loadConfig } from '../config.js';
import { BatchingDetector } from '../detector/batching-detector.js';
import { detectorSettings, loadDetector } from '../detector/load-detector.js';
import { startServer } from '../http/server.js';
import { initBackend, type BackendChoice } from '../model/backend.js';

/** `npm start`: the service on the model named by OOD_MODEL (default: the embedded mnist model). */
export async function serveCommand(_argv: string[]): Promise<number> {
  const config = loadConfig(process.env);
  // Chosen once: a reload swaps models, never backends.
  let backend: Promise<BackendChoice> | undefined;
  await startServer({
    config,
    loadDetector: async (model, log) => {
      if (!backend) {
        backend = initBackend(config.backend);
        const choice = await backend;
        log.info({ backend: choice.backend, skipped: choice.skipped }, 'tfjs backend ready');
      }
      await backend;
      const settings = detectorSettings({ ...config, model });
      const detector = await loadDetector(settings, log);
      return new BatchingDetector(detector, { ...config.batching, concurrency: Math.max(1, settings.scoringThreads) });
    },
  });
  // The server keeps the process alive; close-with-grace ends it on a signal.
  return 0;
}
