import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OnlineRanks } from '../../src/math/online-ranks.js';
import { createRng } from '../../src/math/random.js';

/** The counts of `values` in ten equal bins of [0, 1]. */
function deciles(values: readonly number[]): number[] {
  const bins = new Array<number>(10).fill(0);
  for (const v of values) bins[Math.min(9, Math.floor(v * 10))]++;
  return bins;
}

test('on an i.i.d. stream of a few coarse levels, the online p-values are uniform', () => {
  // Heavily tied levels (most values at 3 of 5), which only the random tie-breaking makes uniform.
  const rng = createRng(11);
  const ranks = new OnlineRanks(5, createRng(12));
  const weights = [0.02, 0.08, 0.6, 0.2, 0.1];
  const draw = () => {
    let u = rng();
    for (let level = 1; level <= 5; level++) if ((u -= weights[level - 1]) < 0) return level;
    return 5;
  };
  const p = Array.from({ length: 50_000 }, () => ranks.next(draw()));
  assert.equal(ranks.count, 50_000);
  // Each bin expects 5000 with a binomial standard deviation of 67.
  for (const [bin, count] of deciles(p).entries()) assert.ok(Math.abs(count - 5000) < 300, `decile ${bin}: ${count}`);
  // and successive p-values are uncorrelated
  let products = 0;
  for (let i = 1; i < p.length; i++) products += (p[i] - 0.5) * (p[i - 1] - 0.5);
  assert.ok(Math.abs(products / (p.length - 1)) < 0.002, `lag-1 covariance ${products / (p.length - 1)}`);
});

test('values stranger than the past get small p-values, and a stream that was strange from the start does not', () => {
  const rng = createRng(2);
  const ranks = new OnlineRanks(100, createRng(3));
  for (let i = 0; i < 10_000; i++) ranks.next(50 + Math.floor(rng() * 51));
  // A level below everything seen so far ranks below the whole past.
  assert.ok(ranks.next(1) < 2 / ranks.count);
  const fromTheStart = new OnlineRanks(100, createRng(4));
  const p = Array.from({ length: 10_000 }, () => fromTheStart.next(1 + Math.floor(rng() * 10)));
  assert.ok(p.slice(1000).filter((v) => v < 0.05).length < 0.07 * 9000);
});

test('levels outside 1..levels are refused', () => {
  const ranks = new OnlineRanks(10, createRng(1));
  assert.throws(() => ranks.next(0), /not an integer in \[1, 10\]/);
  assert.throws(() => ranks.next(11), /not an integer/);
  assert.throws(() => ranks.next(2.5), /not an integer/);
  assert.throws(() => new OnlineRanks(0, createRng(1)), /positive integer/);
});

/**
 * Exact, not sampled: for every sequence of t levels drawn i.i.d. (many ties), the p-value given
 * the sequence is uniform between its values at draw 0 and draw 1, so P(p_t <= a) and the joint
 * P(p_{t-1} <= a, p_t <= b) can be summed over all sequences. Uniformity and independence must
 * then hold to rounding, at every t, the first included.
 */
test('with ties, each online p-value is exactly uniform, and independent of the one before', () => {
  const probabilities = [0.2, 0.5, 0.3];
  const bounds = (levels: readonly number[], draw: number) => {
    const ranks = new OnlineRanks(probabilities.length, () => draw);
    return levels.map((level) => ranks.next(level));
  };
  /** P(p <= a) for p uniform on [lo, hi] (a point mass when they meet). */
  const below = (a: number, lo: number, hi: number) => (hi === lo ? (lo <= a ? 1 : 0) : Math.min(1, Math.max(0, (a - lo) / (hi - lo))));
  const grid = [0.05, 0.2, 1 / 3, 0.5, 0.77, 0.95];
  for (let t = 1; t <= 6; t++) {
    const marginal = new Map<number, number>();
    const joint = new Map<string, number>();
    for (let code = 0; code < probabilities.length ** t; code++) {
      const levels = Array.from({ length: t }, (_, i) => (Math.floor(code / probabilities.length ** i) % probabilities.length) + 1);
      const weight = levels.reduce((w, level) => w * probabilities[level - 1], 1);
      const lo = bounds(levels, 0);
      const hi = bounds(levels, 1);
      for (const a of grid) {
        marginal.set(a, (marginal.get(a) ?? 0) + weight * below(a, lo[t - 1], hi[t - 1]));
        if (t < 2) continue;
        for (const b of grid) {
          const key = `${a} ${b}`;
          joint.set(key, (joint.get(key) ?? 0) + weight * below(a, lo[t - 2], hi[t - 2]) * below(b, lo[t - 1], hi[t - 1]));
        }
      }
    }
    for (const a of grid) {
      assert.ok(Math.abs((marginal.get(a) as number) - a) < 1e-12, `t=${t}: P(p <= ${a}) = ${marginal.get(a)}`);
      for (const b of t < 2 ? [] : grid) assert.ok(Math.abs((joint.get(`${a} ${b}`) as number) - a * b) < 1e-12, `t=${t}: P(p' <= ${a}, p <= ${b}) = ${joint.get(`${a} ${b}`)}`);
    }
  }
});
