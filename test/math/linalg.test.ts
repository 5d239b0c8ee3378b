import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  NotPositiveDefiniteError,
  cholesky,
  choleskySolve,
  solveLower,
  solveLowerTransposed,
  invertLower,
  choleskySteps,
  invertLowerSteps,
  lowerTimesRows,
} from '../../src/math/linalg.js';
import { createRng, gaussian } from '../../src/math/random.js';

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-12): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tolerance,
      `index ${i}: ${actual[i]} vs ${expected[i]} (tolerance ${tolerance})`,
    );
  }
}

test('cholesky of a hand-factored 3 x 3 matrix', () => {
  // A = L L^T with L = [[2,0,0],[6,1,0],[-8,5,3]].
  const a = Float64Array.from([4, 12, -16, 12, 37, -43, -16, -43, 98]);
  assertClose(cholesky(a, 3), [2, 0, 0, 6, 1, 0, -8, 5, 3]);
});

test('cholesky reads only the lower triangle', () => {
  const lowerOnly = Float64Array.from([4, 0, 0, 12, 37, 0, -16, -43, 98]);
  assertClose(cholesky(lowerOnly, 3), [2, 0, 0, 6, 1, 0, -8, 5, 3]);
});

test('cholesky rejects matrices that are not positive definite, and NaN', () => {
  // Rank 1: the second pivot is 0.
  assert.throws(() => cholesky(Float64Array.from([1, 1, 1, 1]), 2), NotPositiveDefiniteError);
  assert.throws(() => cholesky(Float64Array.from([-1, 0, 0, 1]), 2), /pivot 0/);
  assert.throws(() => cholesky(Float64Array.from([NaN, 0, 0, 1]), 2), NotPositiveDefiniteError);
  assert.throws(() => cholesky(new Float64Array(3), 2), RangeError);
});

/** Runs a stepped computation to its end, counting the pauses it offered. */
function runCounting<T>(steps: Generator<void, T>): { pauses: number; value: T } {
  let pauses = 0;
  let step = steps.next();
  while (!step.done) {
    pauses++;
    step = steps.next();
  }
  return { pauses, value: step.value };
}

test('choleskySteps pauses between columns and gives the same factor', () => {
  const n = 6;
  const l = randomLower(n, 5);
  // A = L L^T is positive definite, with L's diagonal made positive.
  for (let j = 0; j < n; j++) l[j * n + j] = Math.abs(l[j * n + j]) + 1;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let p = 0; p < n; p++) a[i * n + j] += l[i * n + p] * l[j * n + p];
  const { pauses, value } = runCounting(choleskySteps(a, n, 1));
  // The first column costs nothing, so no pause follows it.
  assert.equal(pauses, n - 2);
  assert.deepEqual(Array.from(value), Array.from(cholesky(a, n)));
  assertClose(value, l, 1e-10);
});

test('triangular solves against hand values', () => {
  const l = Float64Array.from([2, 0, 0, 6, 1, 0, -8, 5, 3]);
  // L y = b with y = [1, 2, 3]: b = [2, 8, 11].
  assertClose(solveLower(l, 3, [2, 8, 11]), [1, 2, 3]);
  // L^T x = y with x = [1, 2, 3]: y = [2 + 12 - 24, 2 + 15, 9] = [-10, 17, 9].
  assertClose(solveLowerTransposed(l, 3, [-10, 17, 9]), [1, 2, 3]);
  assert.throws(() => solveLower(l, 3, [1, 2]), RangeError);
});

test('choleskySolve solves a random SPD system', () => {
  const n = 12;
  const rng = createRng(7);
  const g = Float64Array.from({ length: n * n }, () => gaussian(rng));
  // A = G G^T + n I is symmetric positive definite and well conditioned.
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let sum = i === j ? n : 0;
      for (let p = 0; p < n; p++) sum += g[i * n + p] * g[j * n + p];
      a[i * n + j] = sum;
    }
  }
  const x = Float64Array.from({ length: n }, () => gaussian(rng));
  const b = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) b[i] += a[i * n + j] * x[j];
  assertClose(choleskySolve(cholesky(a, n), n, b), x, 1e-10);
});

/** A random well-conditioned lower-triangular n x n matrix. */
function randomLower(n: number, seed: number): Float64Array {
  const rng = createRng(seed);
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) l[i * n + j] = gaussian(rng) * 0.3;
    l[i * n + i] = 1 + Math.abs(gaussian(rng));
  }
  return l;
}

test('invertLower gives L^{-1}: L times it is the identity', () => {
  const n = 9;
  const l = randomLower(n, 3);
  const inv = invertLower(l, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < n; p++) sum += l[i * n + p] * inv[p * n + j];
      assert.ok(Math.abs(sum - (i === j ? 1 : 0)) < 1e-12, `(${i}, ${j}): ${sum}`);
    }
    for (let j = i + 1; j < n; j++) assert.equal(inv[i * n + j], 0);
  }
});

test('lowerTimesRows with L^{-1} solves each row as forward substitution does, for odd sizes', () => {
  for (const [n, rows] of [[7, 5], [8, 4], [1, 3], [5, 1]]) {
    const l = randomLower(n, n + rows);
    const rng = createRng(rows);
    const x = Float32Array.from({ length: rows * n }, () => gaussian(rng));
    const product = lowerTimesRows(invertLower(l, n), n, x, rows);
    for (let r = 0; r < rows; r++) {
      const expected = solveLower(l, n, x.subarray(r * n, (r + 1) * n));
      for (let i = 0; i < n; i++) {
        assert.ok(Math.abs(product[r * n + i] - expected[i]) < 1e-12, `n ${n}, row ${r}, ${i}: ${product[r * n + i]} vs ${expected[i]}`);
      }
    }
  }
});

test('invertLowerSteps pauses between columns and gives the same inverse', () => {
  const n = 6;
  const l = randomLower(n, 8);
  const { pauses, value } = runCounting(invertLowerSteps(l, n, 1));
  assert.equal(pauses, n - 1);
  assert.deepEqual(Array.from(value), Array.from(invertLower(l, n)));
});
