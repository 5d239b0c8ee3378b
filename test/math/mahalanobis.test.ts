import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitMahalanobis, fitMahalanobisYielding, mahalanobisOutlierScores } from '../../src/math/mahalanobis.js';
import type { Matrix } from '../../src/math/matrix.js';
import { createRng, gaussian } from '../../src/math/random.js';

function matrix(rows: number[][]): Matrix {
  return { data: Float64Array.from(rows.flat()), rows: rows.length, cols: rows[0].length };
}

function assertClose(actual: ArrayLike<number>, expected: number[], tolerance = 1e-9): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance, `row ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

// Each class is the same four points around its mean: +-(2, 2) and +-(1, -1). The tied
// covariance is (2 * [[4,4],[4,4]] + 2 * [[1,-1],[-1,1]]) / 4 = [[2.5, 1.5], [1.5, 2.5]],
// whose inverse is [[2.5, -1.5], [-1.5, 2.5]] / 4.
const shape = [[2, 2], [-2, -2], [1, -1], [-1, 1]];
const shift = [20, -20];
const twoClasses = matrix([...shape, ...shape.map(([x, y]) => [x + shift[0], y + shift[1]])]);
const twoLabels = Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1]);

test('class means and the tied covariance of a hand-built 2-D example', () => {
  const model = fitMahalanobis(twoClasses, twoLabels, 2, { ridge: 0 });
  assert.deepEqual(Array.from(model.means), [0, 0, 20, -20]);
  assert.equal(model.ridge, 0);
  const [l00, , l10, l11] = model.choleskyFactor;
  // L L^T must give back the covariance.
  assertClose([l00 * l00, l10 * l00, l10 * l10 + l11 * l11], [2.5, 1.5, 2.5], 1e-12);
});

test('squared Mahalanobis distance to the nearest class mean, by hand', () => {
  const model = fitMahalanobis(twoClasses, twoLabels, 2, { ridge: 0 });
  const queries = matrix([
    [1, 0], // class 0: 2.5 / 4
    [1, 1], // class 0: (2.5 - 3 + 2.5) / 4
    [21, -20], // class 1: 2.5 / 4
    [10, -10], // halfway: (250 + 300 + 250) / 4 from either class
    [0, 0], // on a mean
  ]);
  assertClose(mahalanobisOutlierScores(model, queries), [0.625, 0.5, 0.625, 200, 0]);
});

test('the default ridge barely moves a full-rank answer', () => {
  const model = fitMahalanobis(twoClasses, twoLabels, 2);
  // Mean diagonal 2.5, relative ridge 1e-6.
  assertClose([model.ridge], [2.5e-6], 1e-18);
  assertClose(mahalanobisOutlierScores(model, matrix([[1, 0]])), [0.625], 1e-5);
});

/** Two informative features plus a dead unit, a copy-sum of the first two and a constant. */
function rankDeficient(rows: number, seed: number): { features: Matrix; labels: Int32Array } {
  const rng = createRng(seed);
  const data = new Float32Array(rows * 5);
  const labels = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    labels[i] = i % 3;
    const a = 3 * labels[i] + gaussian(rng);
    const b = -2 * labels[i] + 0.5 * gaussian(rng);
    data.set([a, b, 0, a + b, 5], i * 5);
  }
  return { features: { data, rows, cols: 5 }, labels };
}

function columns(m: Matrix, cols: number[]): Matrix {
  const data = new Float64Array(m.rows * cols.length);
  for (let i = 0; i < m.rows; i++) cols.forEach((c, j) => (data[i * cols.length + j] = m.data[i * m.cols + c]));
  return { data, rows: m.rows, cols: cols.length };
}

test('rank-deficient features (dead, duplicated and constant units) still fit and score finitely', () => {
  const train = rankDeficient(300, 1);
  const test = rankDeficient(60, 2);
  const model = fitMahalanobis(train.features, train.labels, 3);
  assert.ok(model.ridge > 0);
  const scores = mahalanobisOutlierScores(model, test.features);
  for (const s of scores) assert.ok(Number.isFinite(s) && s >= 0, `score ${s}`);

  // On the training subspace the ridge is invisible: the scores match the full-rank fit
  // on the two informative features alone.
  const informative = [0, 1];
  const reduced = fitMahalanobis(columns(train.features, informative), train.labels, 3, { ridge: 0 });
  const expected = mahalanobisOutlierScores(reduced, columns(test.features, informative));
  for (let i = 0; i < scores.length; i++) {
    assert.ok(Math.abs(scores[i] - expected[i]) <= 1e-3 * (1 + expected[i]), `row ${i}: ${scores[i]} vs ${expected[i]}`);
  }

  // Waking the dead unit leaves the training subspace, which must cost a great deal.
  const awake = { data: Float32Array.from(test.features.data.subarray(0, 5)), rows: 1, cols: 5 };
  awake.data[2] = 1;
  assert.ok(mahalanobisOutlierScores(model, awake)[0] > 1e4 * (1 + scores[0]));
});

test('features with no variance at all still fit', () => {
  const constant = { data: new Float32Array(4 * 3).fill(2), rows: 4, cols: 3 };
  const model = fitMahalanobis(constant, Int32Array.from([0, 1, 0, 1]), 2);
  assert.equal(model.ridge, 1e-6);
  assert.deepEqual(Array.from(mahalanobisOutlierScores(model, constant)), [0, 0, 0, 0]);
});

test('fitMahalanobis rejects inconsistent inputs', () => {
  assert.throws(() => fitMahalanobis(twoClasses, Int32Array.from([0, 1]), 2), /8 feature rows but 2 labels/);
  assert.throws(() => fitMahalanobis(twoClasses, twoLabels, 3), /class 2 has no training samples/);
  assert.throws(() => fitMahalanobis(twoClasses, twoLabels.map((l) => l + 1), 2), /label 2 at row 4/);
  assert.throws(() => fitMahalanobis(twoClasses, twoLabels, 2, { ridge: -1 }), /ridge/);
  const withNaN = matrix([[NaN, 0], [1, 1]]);
  assert.throws(() => fitMahalanobis(withNaN, Int32Array.from([0, 0]), 1), /finite/);
  const model = fitMahalanobis(twoClasses, twoLabels, 2);
  assert.throws(() => mahalanobisOutlierScores(model, matrix([[1, 2, 3]])), /expected 2 columns/);
});

test('the yielding fit gives the same model as the one-shot fit, however it is sliced', async () => {
  const rng = createRng(9);
  const rows = 120;
  const dim = 5;
  const data = Float64Array.from({ length: rows * dim }, () => gaussian(rng));
  const labels = Int32Array.from({ length: rows }, (_, i) => i % 3);
  const features: Matrix = { data, rows, cols: dim };
  const once = fitMahalanobis(features, labels, 3);
  for (const rowsPerStep of [1, 7, 50, 1000]) {
    const sliced = await fitMahalanobisYielding(features, labels, 3, {}, rowsPerStep);
    assert.deepEqual(sliced, once);
  }
});

test('the blocked covariance equals a row-by-row sum, for odd widths and a partial last block', () => {
  // 7 features (odd: the 2x2 kernel's edge) and 150 rows (two blocks of 64 and one of 22).
  const rows = 150;
  const cols = 7;
  const rng = createRng(11);
  const data = Float64Array.from({ length: rows * cols }, () => gaussian(rng));
  const labels = Int32Array.from({ length: rows }, (_, i) => i % 3);
  const model = fitMahalanobis({ data, rows, cols }, labels, 3, { ridge: 0 });
  const expected = new Float64Array(cols * cols);
  for (let i = 0; i < rows; i++) {
    const centred = Array.from({ length: cols }, (_, j) => data[i * cols + j] - model.means[labels[i] * cols + j]);
    for (let a = 0; a < cols; a++) for (let b = 0; b < cols; b++) expected[a * cols + b] += (centred[a] * centred[b]) / rows;
  }
  // L L^T gives back the covariance the fit used.
  const L = model.choleskyFactor;
  const rebuilt: number[] = [];
  const wanted: number[] = [];
  for (let a = 0; a < cols; a++) {
    for (let b = 0; b <= a; b++) {
      let sum = 0;
      for (let p = 0; p <= b; p++) sum += L[a * cols + p] * L[b * cols + p];
      rebuilt.push(sum);
      wanted.push(expected[a * cols + b]);
    }
  }
  assertClose(rebuilt, wanted, 1e-12);
});
