import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Matrix } from '../../src/math/matrix.js';
import { createRng, gaussian } from '../../src/math/random.js';
import { optimalTemperature, snnl } from '../../src/math/snnl.js';

function matrix(rows: number[][]): Matrix {
  return { data: Float64Array.from(rows.flat()), rows: rows.length, cols: rows[0].length };
}

function assertClose(actual: number, expected: number, relative = 1e-12): void {
  assert.ok(
    Math.abs(actual - expected) <= relative * Math.max(1, Math.abs(expected)),
    `expected ${expected}, got ${actual}`,
  );
}

const log1pExp = (a: number): number => Math.log1p(Math.exp(a));

test('euclidean, 3 points: the singleton class is skipped', () => {
  // d01 = 1, d02 = 9, d12 = 4; anchor 2 has no classmate.
  // anchor 0: -log(e^-1 / (e^-1 + e^-9)) = log(1 + e^-8); anchor 1: log(1 + e^-3).
  const value = snnl(matrix([[0], [1], [3]]), [0, 0, 1], 1);
  assertClose(value, (log1pExp(-8) + log1pExp(-3)) / 2);
  assertClose(value, 0.024461379, 1e-8);
});

test('euclidean, 4 points at temperature 2', () => {
  // d: 01=1 02=9 03=16 12=4 13=9 23=1; anchors 0 and 3, 1 and 2 are mirror images.
  // anchor 0: log(1 + e^-4 + e^-7.5); anchor 1: log(1 + e^-1.5 + e^-4).
  const value = snnl(matrix([[0], [1], [3], [4]]), [0, 0, 1, 1], 2);
  const expected = (Math.log(1 + Math.exp(-4) + Math.exp(-7.5)) + Math.log(1 + Math.exp(-1.5) + Math.exp(-4))) / 2;
  assertClose(value, expected);
  assertClose(value, 0.1174848, 1e-6);
});

test('cosine, 4 points', () => {
  // (1,0) and (2,0) share a direction (d = 0); (0,3) is orthogonal to all (d = 1);
  // (-1,0) is opposite the first two (d = 2).
  const x = matrix([[1, 0], [2, 0], [0, 3], [-1, 0]]);
  const value = snnl(x, [0, 0, 1, 1], 1, 'cosine');
  const anchor0 = Math.log(1 + Math.exp(-1) + Math.exp(-2));
  const anchor2 = Math.log(3);
  const anchor3 = Math.log(1 + 2 * Math.exp(-1));
  assertClose(value, (2 * anchor0 + anchor2 + anchor3) / 4);
});

test('cosine, 3 points with a singleton class', () => {
  const value = snnl(matrix([[1, 0], [2, 0], [0, 3]]), [0, 0, 1], 1, 'cosine');
  assertClose(value, log1pExp(-1));
});

test('huge distances stay finite: SNNL ~ (1e6 - 1), not Infinity', () => {
  // Every anchor's classmate is 1e6 away (squared) and its nearest stranger 1 away, so each term
  // is -(1e6 - 1) up to e^-998000; exp(-1e6) alone would underflow to 0 and give log(0).
  const value = snnl(matrix([[0], [1], [1000], [1001]]), [0, 1, 0, 1], 1);
  assertClose(value, 1e6 - 1, 1e-12);
});

test('tiny temperature does not produce NaN', () => {
  // Each anchor's nearest neighbour is a classmate, so the limit T -> 0 is exactly 0.
  assert.equal(snnl(matrix([[0], [1], [3], [3.5]]), [0, 0, 1, 1], 1e-300), 0);
  // Here anchor 1's nearest (at 1) is a stranger while its classmate is 4 away: the term grows
  // like (4 - 1) / T and must be large but not NaN.
  const value = snnl(matrix([[0], [2], [3], [10]]), [0, 0, 1, 1], 1e-3);
  assert.ok(Number.isFinite(value) && value > 1000, `got ${value}`);
});

test('a batch with only singleton classes returns 0', () => {
  assert.equal(snnl(matrix([[0], [1], [2]]), [0, 1, 2], 1), 0);
  assert.equal(snnl(matrix([[0]]), [0], 1), 0);
});

test('input validation', () => {
  assert.throws(() => snnl(matrix([[0], [1]]), [0, 0], 0), RangeError);
  assert.throws(() => snnl(matrix([[0], [1]]), [0, 0], Number.NaN), RangeError);
  assert.throws(() => snnl(matrix([[0], [1]]), [0], 1), RangeError);
});

function overlappingClusters(seed: number, scale: number): { x: Matrix; labels: number[] } {
  const rng = createRng(seed);
  const rows: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < 40; i++) {
    const label = i % 2;
    rows.push([scale * (gaussian(rng) + 1.2 * label), scale * gaussian(rng)]);
    labels.push(label);
  }
  return { x: matrix(rows), labels };
}

for (const distance of ['euclidean', 'cosine'] as const) {
  test(`optimalTemperature is a local minimum (${distance})`, () => {
    const { x, labels } = overlappingClusters(7, 1);
    const best = optimalTemperature(x, labels, distance);
    assert.ok(best.temperature > 0 && Number.isFinite(best.snnl));
    assertClose(best.snnl, snnl(x, labels, best.temperature, distance), 1e-12);
    assert.ok(snnl(x, labels, best.temperature * 1.1, distance) >= best.snnl);
    assert.ok(snnl(x, labels, best.temperature / 1.1, distance) >= best.snnl);
    assert.ok(snnl(x, labels, best.temperature * 1.01, distance) >= best.snnl);
    assert.ok(snnl(x, labels, best.temperature / 1.01, distance) >= best.snnl);
  });
}

test('optimalTemperature follows the data scale', () => {
  // Squared distances scale by 1000^2, so T* must too, and SNNL at T* must not change.
  const small = overlappingClusters(11, 1);
  const large = overlappingClusters(11, 1000);
  const a = optimalTemperature(small.x, small.labels);
  const b = optimalTemperature(large.x, large.labels);
  assertClose(b.temperature / a.temperature, 1e6, 1e-4);
  assertClose(b.snnl, a.snnl, 1e-9);
});

test('optimalTemperature returns the grid edge when SNNL keeps falling', () => {
  // Well-separated classes: SNNL decreases monotonically as T -> 0.
  const x = matrix([[0], [0.1], [10], [10.1]]);
  const best = optimalTemperature(x, [0, 0, 1, 1], 'euclidean', { minLog10: -2, maxLog10: 2, steps: 9 });
  assert.ok(best.snnl < 1e-10, `got ${best.snnl}`);
  assert.throws(() => optimalTemperature(x, [0, 0, 1, 1], 'euclidean', { steps: 2 }), RangeError);
});
