import { loadConfig } from '../config.js';
import { detectorSettings, loadDetector } from '../detector/load-detector.js';
import { startServer } from '../http/server.js';
import { initBackend } from '../model/backend.js';

/** `npm start`: the service on the model named by OOD_MODEL (default: the embedded mnist model). */
export async function serveCommand(_argv: string[]): Promise<number> {
  const config = loadConfig(process.env);
  await startServer({
    config,
    loadDetector: async (log) => {
      const choice = await initBackend(config.backend);
      log.info({ backend: choice.backend, skipped: choice.skipped }, 'tfjs backend ready');
      return loadDetector(detectorSettings(config), log);
    },
  });
  // The server keeps the process alive; close-with-grace ends it on a signal.
  return 0;
}
