import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DriftStatistic } from '../../src/drift/drift-statistic.js';
import { createRng } from '../../src/math/random.js';

const N = 750;
const DELTA = 0.01;
/** A combined p-value as the service computes it: (c+1)/(n+1), c uniform on 0..n for in-distribution inputs. */
const cleanP = (rng: () => number) => Math.ceil(rng() * (N + 1)) / (N + 1);

/** Where the statistic first reaches 1/delta, or -1. */
function firstCrossing(draw: (t: number, rng: () => number) => number, length: number, seed: number): number {
  const rng = createRng(seed);
  const statistic = new DriftStatistic({ calibrationSize: N, delta: DELTA, rng: createRng(seed + 7777) });
  const threshold = Math.log10(1 / DELTA);
  for (let t = 0; t < length; t++) {
    statistic.update(draw(t, rng));
    if (statistic.log10() >= threshold) return t;
  }
  return -1;
}

test('a clean stream of 1M uniform p-values stays below 1/delta in all but about a delta share of seeds', () => {
  const seeds = 40;
  let crossed = 0;
  for (let seed = 0; seed < seeds; seed++) if (firstCrossing((_, rng) => cleanP(rng), 1_000_000, seed) >= 0) crossed++;
  // The bound is delta = 0.01: 0.4 expected crossings at most; 3 or more would happen by chance
  // under it less than 1% of the time.
  assert.ok(crossed <= 2, `${crossed} of ${seeds} clean streams crossed 1/delta`);
});

test('a stream with an excess of small p-values crosses 1/delta, from the start or after 200k clean ones', () => {
  for (const shiftAt of [0, 200_000]) {
    for (let seed = 0; seed < 5; seed++) {
      // From the shift on, 3% of the inputs get the smallest p-value there is.
      const crossing = firstCrossing((t, rng) => (t >= shiftAt && rng() < 0.03 ? 1 / (N + 1) : cleanP(rng)), shiftAt + 100_000, seed);
      assert.ok(crossing >= shiftAt, `seed ${seed}: ${crossing < 0 ? 'never crossed' : `crossed at ${crossing}, before the shift at ${shiftAt}`}`);
    }
  }
});

test('the statistic starts at 1/2: each part is a martingale that starts at 1, over its divisor', () => {
  const statistic = new DriftStatistic({ calibrationSize: N, delta: DELTA, rng: createRng(1) });
  assert.equal(statistic.count, 0);
  assert.deepEqual(statistic.parts(), { calibration: -Math.log10(4), stream: -Math.log10(2) });
  assert.equal(statistic.log10(), -Math.log10(2));
  assert.throws(() => statistic.update(0), /in \(0, 1\]/);
  assert.throws(() => new DriftStatistic({ calibrationSize: N, delta: 1 }), /delta/);
});
