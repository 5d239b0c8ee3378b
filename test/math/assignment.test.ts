import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { maximumAssignment } from '../../src/math/assignment.js';
import { createRng, permutation } from '../../src/math/random.js';

const total = (weights: ArrayLike<number>, n: number, assignment: ArrayLike<number>) => {
  let sum = 0;
  for (let r = 0; r < n; r++) sum += weights[r * n + assignment[r]];
  return sum;
};

function isPermutation(assignment: Int32Array, n: number): boolean {
  return assignment.length === n && new Set(assignment).size === n && assignment.every((c) => c >= 0 && c < n);
}

/** Every permutation of 0..n-1 (Heap's algorithm): the oracle for small n. */
function* permutations(n: number): Generator<number[]> {
  const p = Array.from({ length: n }, (_, i) => i);
  const c = new Array<number>(n).fill(0);
  yield [...p];
  let i = 1;
  while (i < n) {
    if (c[i] < i) {
      const j = i % 2 === 0 ? 0 : c[i];
      [p[j], p[i]] = [p[i], p[j]];
      yield [...p];
      c[i]++;
      i = 1;
    } else {
      c[i] = 0;
      i++;
    }
  }
}

const bruteForceBest = (weights: ArrayLike<number>, n: number) => {
  let best = -Infinity;
  for (const p of permutations(n)) best = Math.max(best, total(weights, n, p));
  return best;
};

test('a hand example: the diagonal loses to a better pairing', () => {
  // Rows pick columns 2, 0, 1 for 9 + 8 + 7 = 24; the diagonal gives 1 + 2 + 3 = 6.
  const weights = [1, 0, 9, 8, 2, 0, 0, 7, 3];
  assert.deepEqual(Array.from(maximumAssignment(weights, 3)), [2, 0, 1]);
});

test('the oracle enumerates n! distinct permutations', () => {
  const seen = new Set([...permutations(5)].map((p) => p.join(',')));
  assert.equal(seen.size, 120);
});

test('equals brute force over every permutation, for whole-number weights with ties and negatives', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 7 }).chain((n) => fc.tuple(fc.constant(n), fc.array(fc.integer({ min: -5, max: 20 }), { minLength: n * n, maxLength: n * n }))),
      ([n, weights]) => {
        const assignment = maximumAssignment(weights, n);
        assert.ok(isPermutation(assignment, n), `not a permutation: ${Array.from(assignment)}`);
        assert.equal(total(weights, n, assignment), bruteForceBest(weights, n));
      },
    ),
    { numRuns: 300 },
  );
});

test('equals brute force for real-valued weights, to rounding', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }).chain((n) =>
        fc.tuple(fc.constant(n), fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: n * n, maxLength: n * n })),
      ),
      ([n, weights]) => {
        const found = total(weights, n, maximumAssignment(weights, n));
        assert.ok(Math.abs(found - bruteForceBest(weights, n)) <= 1e-9 * (1 + Math.abs(found)));
      },
    ),
    { numRuns: 200 },
  );
});

test('no rows, one row, and equal weights', () => {
  assert.deepEqual(Array.from(maximumAssignment([], 0)), []);
  assert.deepEqual(Array.from(maximumAssignment([5], 1)), [0]);
  assert.ok(isPermutation(maximumAssignment(new Array<number>(16).fill(3), 4), 4));
});

test('300 classes: recovers a planted permutation in well under a second', () => {
  const n = 300;
  const rng = createRng(11);
  const planted = permutation(n, rng);
  // Noise up to 10 everywhere, 50 more on the planted pairs: it is the unique optimum.
  const weights = Float64Array.from({ length: n * n }, () => Math.floor(rng() * 10));
  for (let r = 0; r < n; r++) weights[r * n + planted[r]] += 50;
  const started = performance.now();
  const assignment = maximumAssignment(weights, n);
  const elapsed = performance.now() - started;
  assert.deepEqual(Array.from(assignment), Array.from(planted));
  assert.ok(elapsed < 1000, `${elapsed.toFixed(0)} ms`);
});

test('refuses a matrix of the wrong size and weights that are not finite', () => {
  assert.throws(() => maximumAssignment([1, 2, 3], 2), RangeError);
  assert.throws(() => maximumAssignment([1, Number.NaN, 3, 4], 2), /weight 1 is NaN/);
  assert.throws(() => maximumAssignment([1, Infinity, 3, 4], 2), RangeError);
});
