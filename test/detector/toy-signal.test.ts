import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { z } from 'zod';
import type { Config } from '../../src/config.js';
import { loadDetector, type DetectorSettings } from '../../src/detector/load-detector.js';
import type { Signal } from '../../src/detector/signals/signal.js';
import { SIGNALS } from '../../src/detector/signals/table.js';
import { detectorSettings } from '../../src/detector-settings.js';
import { addModel } from '../../src/onboarding/add-model.js';
import { onnxMlp } from '../fixtures/onnx-model.js';
import { blobs, BLOB_CLASSES, BLOB_FEATURES, blobsModelOptions, configIn, writeBlobs } from '../fixtures/blobs.js';
import { makeTmp } from '../fixtures/tiny-model.js';

/**
 * A fourth signal written the way a new one would be: this file and nothing else. It proves the
 * signals are a registry: the calibration, the cache entry and the answers take it by its name,
 * with no scoring file changed.
 *
 * The signal: how far each layer's activation norm lies from the reference set's mean norm,
 * summed over layers. Its reference model is one number per layer, stored as 8 bytes.
 */
interface NormModel {
  mean: number;
}

const rowNorms = (data: ArrayLike<number>, rows: number, cols: number) =>
  Array.from({ length: rows }, (_, i) => {
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += data[i * cols + j] ** 2;
    return Math.sqrt(sum);
  });

const decoded: number[] = [];

const normSignal: Signal<{ center: number }, NormModel> = {
  name: 'norm',
  reference: {
    fit: (acts) => {
      const norms = rowNorms(acts.data, acts.rows, acts.cols);
      return Promise.resolve({ mean: norms.reduce((a, b) => a + b, 0) / norms.length });
    },
    encode: (model) => ({ bytes: new Uint8Array(Float64Array.of(model.mean).buffer), meta: { version: 1 } }),
    decode: (bytes, meta) => {
      z.object({ version: z.literal(1) }).parse(meta);
      if (bytes.byteLength !== 8) throw new Error(`norm file has ${bytes.byteLength} bytes, expected 8`);
      const mean = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + 8))[0];
      decoded.push(mean);
      return { mean };
    },
    measure: (model, acts) => Float64Array.from(rowNorms(acts.data, acts.rows, acts.cols), (n) => Math.abs(n - model.mean)),
  },
  paramsSchema: () => z.object({ center: z.number() }),
  calibrate: (evidence) => {
    const sums = evidence.map((e) => e.measured.norm.reduce((a, b) => a + b, 0)).sort((a, b) => a - b);
    return { center: sums[sums.length >> 1] };
  },
  score: (evidence, _predicted, params) => evidence.measured.norm.reduce((a, b) => a + b, 0) - params.center,
};

const CLASSES = BLOB_CLASSES;
const FEATURES = BLOB_FEATURES;

describe('a signal added outside the table', () => {
  let tmp: Awaited<ReturnType<typeof makeTmp>>;
  let config: Config;
  let settings: DetectorSettings;
  const log = pino({ level: 'silent' });
  const withNorm = [...SIGNALS, normSignal];

  before(async () => {
    tmp = await makeTmp('toy-signal');
    const inputs = join(tmp.dir, 'inputs');
    await mkdir(inputs);
    config = await configIn(tmp.dir);
    await writeFile(join(inputs, 'model.onnx'), onnxMlp({ inputs: FEATURES, hidden: 6, classes: CLASSES }).bytes);
    await writeBlobs(inputs, '', blobs(600, 1));
    await addModel(blobsModelOptions(inputs), config, log);
    settings = { ...detectorSettings({ ...config, model: 'blobs' }), scoringThreads: 0, signals: withNorm };
  });
  after(() => tmp.cleanup());

  it('is calibrated, cached and reported by its name, and read back from the cache', async () => {
    const inputs = blobs(30, 7).x;
    const first = await loadDetector(settings, log);
    let before: Record<string, number>[];
    try {
      assert.deepEqual(first.info.signals, ['label', 'distance', 'density', 'norm']);
      const { predictions } = await first.predict(inputs, 30);
      before = predictions.map((p) => p.p_values);
      for (const p of before) {
        assert.deepEqual(Object.keys(p).sort(), ['combined', 'density', 'distance', 'label', 'norm']);
        assert.ok(p.norm > 0 && p.norm <= 1, `norm p-value ${p.norm}`);
      }
      // An input twenty times as far from the origin as any blob point: its norm is unlike every
      // reference norm, so the toy signal alone gives it the smallest p-value it can.
      const far = await first.predict(Float32Array.from([60, -60, 60, -60]), 1);
      const floor = Math.min(...before.map((p) => p.norm));
      assert.ok(far.predictions[0].p_values.norm < floor, `far ${far.predictions[0].p_values.norm}, in-distribution at least ${floor}`);
    } finally {
      first.dispose();
    }

    // The cache entry holds the toy's model per layer and its calibration under its name.
    const modelDir = join(config.cacheDir, 'models', 'blobs');
    const entries = await readdir(modelDir);
    assert.equal(entries.length, 1);
    const entryDir = join(modelDir, entries[0]);
    const files = await readdir(entryDir);
    assert.ok(files.includes('norm-0.bin') && files.includes('norm-1.bin'), files.join(', '));
    const calibration = JSON.parse(await readFile(join(entryDir, 'calibration.json'), 'utf8'));
    assert.deepEqual(calibration.signals, ['label', 'distance', 'density', 'norm']);
    assert.equal(typeof calibration.params.norm.center, 'number');
    assert.equal(calibration.held.norm.length, calibration.combined.length);
    // The label keeps its configured share; the other three split the rest.
    assert.equal(calibration.weights.label, settings.labelWeight);
    for (const s of ['distance', 'density', 'norm']) assert.ok(Math.abs(calibration.weights[s] - (1 - settings.labelWeight) / 3) < 1e-12, s);

    // A second start reads the entry back through the toy's decode and scores the same.
    decoded.length = 0;
    const second = await loadDetector(settings, log);
    try {
      assert.equal(decoded.length, 2, 'one norm model read per indexed layer');
      const { predictions } = await second.predict(inputs, 30);
      assert.deepEqual(
        predictions.map((p) => p.p_values),
        before,
      );
    } finally {
      second.dispose();
    }
  });

  it('keeps the table signals in an entry of their own: adding a signal never reuses an entry made without it', async () => {
    const plain = await loadDetector({ ...settings, signals: SIGNALS }, log);
    try {
      assert.deepEqual(plain.info.signals, ['label', 'distance', 'density']);
      const { predictions } = await plain.predict(blobs(3, 8).x, 3);
      assert.equal('norm' in predictions[0].p_values, false);
    } finally {
      plain.dispose();
    }
  });

  it('refuses, by name, to score it on threads, which find their signals in the table', async () => {
    await assert.rejects(loadDetector({ ...settings, scoringThreads: 1 }, log), /no signal named norm in the table/);
  });
});
