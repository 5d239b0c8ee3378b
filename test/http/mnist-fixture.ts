import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { loadDetector } from '../../src/detector/load-detector.js';
import type { Detector } from '../../src/detector/types.js';
import { detectorSettings } from '../../src/detector-settings.js';
import { initBackend } from '../../src/model/backend.js';
import { loadReferenceSet } from '../../src/reference/load-reference-set.js';
import { uniformNoise } from '../../src/reference/synthetic.js';

export interface MnistFixture {
  detector: Detector;
  /** A held-out digit, then a noise image. */
  rows: number[][];
  dispose(): Promise<void>;
}

/** The embedded mnist model on the calling thread, on a cache of its own, with two rows to send it. */
export async function mnistFixture(options: { keepReferences?: boolean } = {}): Promise<MnistFixture> {
  await initBackend('wasm');
  const cacheDir = await mkdtemp(join(tmpdir(), 'ood-mnist-fixture-'));
  const config = loadConfig({ OOD_CACHE_DIR: cacheDir, OOD_SCORING_THREADS: '0' });
  const detector = await loadDetector({ ...detectorSettings(config), keepReferences: options.keepReferences ?? false }, { info() {}, warn() {}, error() {}, debug() {} } as never);
  const refset = await loadReferenceSet(config.referenceSetsDir, 'mnist');
  return {
    detector,
    rows: [Array.from(refset.test.x.data.subarray(0, 784)), Array.from(uniformNoise(1, 3).data)],
    async dispose() {
      detector.dispose?.();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}
