import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { Matrix } from '../../src/math/matrix.js';
import { createRng, gaussian } from '../../src/math/random.js';
import { initBackend } from '../../src/model/backend.js';
import { accuracy, trainClassifier, TrainOptionsSchema, type EpochReport, type LabeledMatrix } from '../../src/model/train.js';

const DIM = 10;
const CLASSES = 3;

/** Three well separated gaussian blobs in 10-d: the centres are 6 apart on three axes. */
function blobs(rows: number, seed: number): LabeledMatrix {
  const rng = createRng(seed);
  const data = new Float32Array(rows * DIM);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const y = r % CLASSES;
    labels[r] = y;
    for (let j = 0; j < DIM; j++) data[r * DIM + j] = gaussian(rng) + (j === y ? 6 : 0);
  }
  const x: Matrix = { data, rows, cols: DIM };
  return { x, labels };
}

const train = blobs(300, 1);
const test = blobs(90, 2);

function run(overrides: Record<string, unknown>) {
  const options = TrainOptionsSchema.parse({ hidden: [16, 8], epochs: 5, batchSize: 32, learningRate: 0.01, seed: 4, ...overrides });
  const reports: EpochReport[] = [];
  let batchCalls = 0;
  const before = tf.memory().numTensors;
  const model = trainClassifier(train, test, CLASSES, options, {
    onBatch: () => batchCalls++,
    onEpoch: (report) => reports.push(report),
  });
  const leaked = tf.memory().numTensors - before - model.weights.length;
  return { model, reports, batchCalls, leaked, options };
}

describe('trainClassifier', () => {
  before(async () => {
    await initBackend('wasm');
  });

  it('the option defaults are those documented', () => {
    const defaults = TrainOptionsSchema.parse({});
    assert.deepEqual(defaults, {
      hidden: [256, 128, 64],
      epochs: 20,
      batchSize: 128,
      learningRate: 1e-3,
      seed: 1,
      snnlFactor: 0,
      snnlTemperature: 100,
      snnlLearnTemperature: true,
      snnlDistance: 'euclidean',
    });
  });

  it('learns three separable blobs to > 0.9 test accuracy, reporting every epoch', () => {
    const { model, reports, batchCalls } = run({});
    try {
      assert.equal(model.layers.map((l) => l.name).join(','), 'pixels,hidden1,hidden2,logits,probs');
      assert.equal(batchCalls, 5 * Math.ceil(300 / 32));
      assert.deepEqual(reports.map((r) => r.epoch), [1, 2, 3, 4, 5]);
      const last = reports[reports.length - 1];
      assert.ok(last.testAccuracy > 0.9, `test accuracy ${last.testAccuracy}`);
      assert.equal(accuracy(model, test), last.testAccuracy);
      assert.ok(accuracy(model, train, 64) > 0.9);
      for (const r of reports) {
        assert.ok(Number.isFinite(r.loss) && r.loss > 0);
        // Without the SNNL term the loss is the cross-entropy itself.
        assert.ok(Math.abs(r.loss - r.crossEntropy) < 1e-6, `${r.loss} vs ${r.crossEntropy}`);
        assert.deepEqual(r.snnl, []);
        // No SNNL: the temperatures never move from T0.
        assert.deepEqual(r.temperatures, [100, 100]);
        assert.ok(r.seconds >= 0);
      }
      assert.ok(last.loss < reports[0].loss, `loss ${reports[0].loss} -> ${last.loss}`);
    } finally {
      model.dispose();
    }
  });

  it('with snnlFactor -10 reports finite per-layer SNNL and learned temperatures', () => {
    const { model, reports } = run({ snnlFactor: -10 });
    try {
      assert.equal(reports.length, 5);
      for (const r of reports) {
        assert.equal(r.snnl.length, 2);
        assert.equal(r.temperatures.length, 2);
        for (const s of r.snnl) assert.ok(Number.isFinite(s) && s >= 0, `snnl ${s}`);
        for (const t of r.temperatures) assert.ok(Number.isFinite(t) && t > 0, `temperature ${t}`);
        // The reported loss is cross-entropy + factor * sum of the layer SNNLs.
        const expected = r.crossEntropy - 10 * (r.snnl[0] + r.snnl[1]);
        assert.ok(Math.abs(r.loss - expected) < 1e-4 * Math.max(1, Math.abs(expected)), `${r.loss} vs ${expected}`);
      }
      const last = reports[reports.length - 1];
      assert.ok(last.temperatures.every((t) => Math.abs(t - 100) > 1e-3), `temperatures ${last.temperatures}`);
      // Maximising entanglement fights the classifier a little, but it still learns.
      assert.ok(last.testAccuracy > 0.6, `test accuracy ${last.testAccuracy}`);
    } finally {
      model.dispose();
    }
  });

  it('keeps T0 when the temperature is not learned', () => {
    const { model, reports } = run({ snnlFactor: -10, snnlLearnTemperature: false, epochs: 1 });
    model.dispose();
    assert.deepEqual(reports[0].temperatures, [100, 100]);
    assert.equal(reports[0].snnl.length, 2);
  });

  it('leaks nothing per batch or per epoch, with or without SNNL', () => {
    const leaks = [
      run({ epochs: 1 }),
      run({ epochs: 3 }),
      run({ epochs: 1, snnlFactor: -10 }),
      run({ epochs: 3, snnlFactor: -10 }),
    ].map(({ model, leaked }) => {
      model.dispose();
      return leaked;
    });
    assert.deepEqual(leaks, [0, 0, 0, 0], `leftovers ${leaks}`);
  });

  it('leaves only the model weights behind', () => {
    const { model, leaked } = run({ epochs: 1, snnlFactor: -10 });
    model.dispose();
    assert.equal(leaked, 0, `${leaked} tensors leaked besides the model weights`);
  });

  it('is reproducible from its seed', () => {
    const a = run({ epochs: 2 });
    const b = run({ epochs: 2 });
    try {
      assert.deepEqual(
        b.model.getWeights().map((w) => Array.from(w.dataSync())),
        a.model.getWeights().map((w) => Array.from(w.dataSync())),
      );
      assert.equal(b.reports[1].loss, a.reports[1].loss);
    } finally {
      a.model.dispose();
      b.model.dispose();
    }
  });
});
