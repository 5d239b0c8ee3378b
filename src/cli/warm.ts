import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { loadDetector } from '../detector/load-detector.js';
import { detectorSettings } from '../detector-settings.js';
import { createCliLogger } from '../log.js';
import { initBackend } from '../model/backend.js';

const USAGE = `usage: npm run ood -- warm [--model NAME]
  Builds (or verifies) the model's graphs and calibration in the cache, with the server's
  settings from the environment, then exits: an image built with a warm cache starts in seconds.`;

export async function warmCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { model: { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help) {
    process.stderr.write(`${USAGE}\n`);
    return 0;
  }
  const log = createCliLogger();
  const config = loadConfig({ ...process.env, ...(values.model ? { OOD_MODEL: values.model } : {}) });
  const backend = await initBackend(config.backend);
  log.info({ backend: backend.backend }, 'tfjs backend ready');
  const started = performance.now();
  // Warming only builds the cache: scoring threads would load copies nobody searches.
  const detector = await loadDetector({ ...detectorSettings(config), scoringThreads: 0 }, log);
  const { name, version, reference_size: referenceSize } = detector.info;
  detector.dispose?.();
  log.info({ name, version, referenceSize, cacheDir: config.cacheDir, seconds: +((performance.now() - started) / 1000).toFixed(1) }, 'cache warm');
  return 0;
}
