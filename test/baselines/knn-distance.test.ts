import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitKnnDistance, knnDistanceOutlierScores, type IndexFactory } from '../../src/baselines/knn-distance.js';
import { ExactIndex } from '../../src/neighbors/exact-index.js';
import type { Matrix } from '../../src/math/matrix.js';
import { createRng, gaussian } from '../../src/math/random.js';

const exact: IndexFactory = (dim) => new ExactIndex(dim);

function matrix(rows: number[][]): Matrix {
  return { data: Float32Array.from(rows.flat()), rows: rows.length, cols: rows[0].length };
}

test('the score is the Euclidean, not squared, distance between normalised features', () => {
  // (5, 0) and (-2, 0) normalise to (1, 0) and (-1, 0); (0, 3) to (0, 1): sqrt(2) from both.
  const model = fitKnnDistance(matrix([[5, 0], [-2, 0]]), { k: 2, index: exact });
  const [orthogonal, opposite] = knnDistanceOutlierScores(model, matrix([[0, 3], [-7, 0]]));
  assert.ok(Math.abs(orthogonal - Math.SQRT2) < 1e-6, `${orthogonal}`);
  // k = 2: the far neighbour of (-1, 0) is (1, 0), at distance 2 (squared, it would be 4).
  assert.ok(Math.abs(opposite - 2) < 1e-6, `${opposite}`);
  model.dispose();
});

test('points along an arc: the k-th neighbour by angle, whatever the norms', () => {
  // Normalisation puts each training point on the unit circle at angle 0.01 * i, so angle is a
  // line: the query at 0.503 is 0.003, 0.007, 0.013, 0.017, 0.023, ... from its neighbours,
  // and two unit vectors an angle t apart are 2 sin(t / 2) apart.
  const rng = createRng(3);
  const train = Array.from({ length: 100 }, (_, i) => {
    const radius = 1 + 9 * rng();
    return [radius * Math.cos(0.01 * i), radius * Math.sin(0.01 * i)];
  });
  const query = matrix([[4 * Math.cos(0.503), 4 * Math.sin(0.503)]]);
  const expectedAngles = [0.003, 0.007, 0.013, 0.017, 0.023];
  for (const [i, angle] of expectedAngles.entries()) {
    const model = fitKnnDistance(matrix(train), { k: i + 1, index: exact });
    const [score] = knnDistanceOutlierScores(model, query);
    const expected = 2 * Math.sin(angle / 2);
    assert.ok(Math.abs(score - expected) < 1e-5, `k = ${i + 1}: ${score} vs ${expected}`);
  }
});

function gaussianMatrix(rows: number, cols: number, seed: number): Matrix {
  const rng = createRng(seed);
  return { data: Float32Array.from({ length: rows * cols }, () => gaussian(rng)), rows, cols };
}

test('the default HNSW index agrees with the exact index on random data', () => {
  const train = gaussianMatrix(1000, 16, 11);
  const queries = gaussianMatrix(200, 16, 12);
  const approx = fitKnnDistance(train);
  assert.equal(approx.k, 50);
  const oracle = fitKnnDistance(train, { index: exact });
  const got = knnDistanceOutlierScores(approx, queries);
  const want = knnDistanceOutlierScores(oracle, queries);
  let agree = 0;
  for (let i = 0; i < want.length; i++) {
    // An approximate search can only miss neighbours, so its k-th distance is never nearer.
    assert.ok(got[i] >= want[i] - 1e-6, `row ${i}: ${got[i]} < ${want[i]}`);
    if (Math.abs(got[i] - want[i]) < 1e-6) agree++;
  }
  assert.ok(agree >= 0.98 * want.length, `${agree} of ${want.length} rows agree`);
  approx.dispose();
  oracle.dispose();
});

test('fitKnnDistance rejects a k larger than the training set and mismatched queries', () => {
  assert.throws(() => fitKnnDistance(gaussianMatrix(10, 4, 1), { index: exact }), /k = 50 needs at least 50/);
  assert.throws(() => fitKnnDistance(gaussianMatrix(10, 4, 1), { k: 0, index: exact }), /positive integer/);
  const model = fitKnnDistance(gaussianMatrix(10, 4, 1), { k: 3, index: exact });
  assert.throws(() => knnDistanceOutlierScores(model, gaussianMatrix(2, 5, 2)), /expected 4 columns/);
});
