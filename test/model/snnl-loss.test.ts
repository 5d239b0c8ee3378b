import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { createRng, gaussian } from '../../src/math/random.js';
import { snnl } from '../../src/math/snnl.js';
import { snnlLoss } from '../../src/model/snnl-loss.js';

before(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

function randomBatch(seed: number, rows: number, cols: number, classes: number, scale = 1) {
  const rng = createRng(seed);
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = scale * gaussian(rng);
  const labels = Int32Array.from({ length: rows }, () => Math.floor(rng() * classes));
  return { data, labels, rows, cols };
}

function assertRelative(actual: number, expected: number, relative: number): void {
  assert.ok(
    Math.abs(actual - expected) <= relative * Math.abs(expected),
    `expected ${expected}, got ${actual}`,
  );
}

for (const distance of ['euclidean', 'cosine'] as const) {
  test(`matches math/snnl on random data (${distance})`, () => {
    // 12 rows over 3 classes leaves some classes small; a singleton anchor is skipped by both.
    for (const [seed, rows, temperature] of [[1, 12, 0.3], [2, 24, 3], [3, 32, 30], [4, 12, 0.05]]) {
      const batch = randomBatch(seed, rows, 6, 3);
      const scaledT = distance === 'cosine' ? temperature / 10 : temperature;
      const expected = snnl(batch, batch.labels, scaledT, distance);
      const actual = tf.tidy(() =>
        snnlLoss(tf.tensor2d(batch.data, [rows, 6]), tf.tensor1d(batch.labels, 'int32'), scaledT, distance).arraySync(),
      );
      assertRelative(actual, expected, 1e-4);
    }
  });
}

test('a scalar temperature tensor gives the same value as a number', () => {
  const batch = randomBatch(5, 10, 4, 2);
  const [fromNumber, fromScalar] = tf.tidy(() => {
    const x = tf.tensor2d(batch.data, [10, 4]);
    const y = tf.tensor1d(batch.labels, 'int32');
    return [snnlLoss(x, y, 2).arraySync(), snnlLoss(x, y, tf.scalar(2)).arraySync()];
  });
  assert.equal(fromScalar, fromNumber);
});

test('the 3-point hand example, with the singleton anchor skipped', () => {
  const value = tf.tidy(() => snnlLoss(tf.tensor2d([[0], [1], [3]]), tf.tensor1d([0, 0, 1], 'int32'), 1).arraySync());
  assertRelative(value, (Math.log1p(Math.exp(-8)) + Math.log1p(Math.exp(-3))) / 2, 1e-5);
});

test('only singleton classes: loss 0 with zero, finite gradients', () => {
  const x = tf.tensor2d([[0, 1], [2, 3], [4, 5]]);
  const y = tf.tensor1d([0, 1, 2], 'int32');
  const { value, grads } = tf.valueAndGrads((xs: tf.Tensor, ts: tf.Tensor) =>
    snnlLoss(xs as tf.Tensor2D, y, ts as tf.Scalar),
  )([x, tf.scalar(1)]);
  assert.equal(value.arraySync(), 0);
  for (const g of grads) assert.ok(g.dataSync().every((v) => v === 0));
  tf.dispose([x, y, value, ...grads]);
});

for (const distance of ['euclidean', 'cosine'] as const) {
  test(`gradients w.r.t. x and temperature are finite with huge distances (${distance})`, () => {
    // Squared distances around 1e6 (or cosine over tiny temperatures): exp(-d / T) underflows.
    const batch = randomBatch(9, 16, 5, 4, 500);
    batch.labels[15] = 99; // a singleton anchor, whose masked row must not poison the gradients
    const temperature = distance === 'cosine' ? 1e-4 : 1;
    const x = tf.tensor2d(batch.data, [16, 5]);
    const y = tf.tensor1d(batch.labels, 'int32');
    const t = tf.scalar(temperature);
    const lossAndGrads = tf.valueAndGrads((xs: tf.Tensor, ts: tf.Tensor) =>
      snnlLoss(xs as tf.Tensor2D, y, ts as tf.Scalar, distance),
    );
    const { value, grads } = lossAndGrads([x, t]);
    const loss = value.arraySync() as number;
    assert.ok(Number.isFinite(loss) && loss > 0, `loss ${loss}`);
    assertRelative(loss, snnl(batch, batch.labels, temperature, distance), 1e-4);
    const [gx, gt] = grads;
    assert.ok(gx.dataSync().every(Number.isFinite), 'x gradient has non-finite entries');
    assert.ok(Array.from(gx.dataSync()).some((v) => v !== 0), 'x gradient is all zero');
    assert.ok(Number.isFinite(gt.dataSync()[0]), `temperature gradient ${gt.dataSync()[0]}`);
    tf.dispose([x, y, t, value, gx, gt]);
  });
}

test('temperature gradient matches a finite difference', () => {
  const batch = randomBatch(13, 20, 3, 2);
  const x = tf.tensor2d(batch.data, [20, 3]);
  const y = tf.tensor1d(batch.labels, 'int32');
  const temperature = 2;
  const [gt] = tf.grads((ts: tf.Tensor) => snnlLoss(x, y, ts as tf.Scalar))([tf.scalar(temperature)]);
  const h = 1e-4;
  const numeric =
    (snnl(batch, batch.labels, temperature + h) - snnl(batch, batch.labels, temperature - h)) / (2 * h);
  assertRelative(gt.dataSync()[0], numeric, 1e-3);
  tf.dispose([x, y, gt]);
});

test('no tensors leak', () => {
  const batch = randomBatch(21, 8, 3, 2);
  const x = tf.tensor2d(batch.data, [8, 3]);
  const y = tf.tensor1d(batch.labels, 'int32');
  const t = tf.scalar(1.5);
  const before = tf.memory().numTensors;
  for (const distance of ['euclidean', 'cosine'] as const) {
    snnlLoss(x, y, 1, distance).dispose();
    snnlLoss(x, y, t, distance).dispose();
    tf.tidy(() => snnlLoss(x, y, t, distance).mul(2)).dispose();
  }
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, y, t]);
});
