import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uniformBets } from '../../src/math/drift-bets.js';
import { createRng } from '../../src/math/random.js';
import { ChangePointMartingale, startWeight, unstartedWeight, type StepBet } from '../../src/math/test-martingale.js';

test('the change-point weights sum to 1 at every step', () => {
  for (const t of [0, 1, 2, 10, 1000, 123_456]) {
    let started = 0;
    for (let s = 1; s <= t; s++) started += startWeight(s);
    assert.ok(Math.abs(started + unstartedWeight(t) - 1) < 1e-12, `t=${t}`);
  }
});

/** log M_t by the definition: every start point's product of bets, summed, with nothing folded. */
function bruteForceLog10(bets: readonly StepBet[], stream: readonly number[]): number {
  const t = stream.length;
  const logs: number[] = [Math.log(unstartedWeight(t))];
  for (const bet of bets) {
    for (let s = 1; s <= t; s++) {
      let log = Math.log(bet.weight * startWeight(s));
      for (let u = s; u <= t; u++) log += Math.log(1 + bet.fraction * ((stream[u - 1] <= bet.threshold ? 1 : 0) / bet.reference - 1));
      logs.push(log);
    }
  }
  const high = Math.max(...logs);
  return (high + Math.log(logs.reduce((sum, l) => sum + Math.exp(l - high), 0))) / Math.LN10;
}

test('the O(1) update equals the sum over start points, also after rescaling a huge value', () => {
  const bets = uniformBets([0.01, 0.2], [0.1, 0.9]);
  const rng = createRng(5);
  // Clean for a while, then p-values that the bold bets multiply by ~90 each: far past 1e150.
  const stream = [...Array.from({ length: 60 }, rng), ...Array.from({ length: 120 }, () => rng() * 0.01)];
  const martingale = new ChangePointMartingale(bets);
  assert.equal(martingale.log10(), 0, 'M_0 = 1');
  stream.forEach((p, i) => {
    martingale.update(p);
    if ((i + 1) % 30 === 0) {
      const expected = bruteForceLog10(bets, stream.slice(0, i + 1));
      assert.ok(Math.abs(martingale.log10() - expected) < 1e-9 * Math.max(1, Math.abs(expected)), `step ${i + 1}: ${martingale.log10()} vs ${expected}`);
    }
  });
  assert.ok(martingale.log10() > 150, `it grew past a rescale: log10 = ${martingale.log10()}`);
});

/** How many of `seeds` streams of `length` p-values from `draw` ever take M to 1/delta or above. */
function crossings(bets: readonly StepBet[], draw: (rng: () => number) => number, seeds: number, length: number, delta: number): number {
  const threshold = Math.log10(1 / delta);
  let crossed = 0;
  for (let seed = 0; seed < seeds; seed++) {
    const rng = createRng(1000 + seed);
    const martingale = new ChangePointMartingale(bets);
    for (let t = 0; t < length; t++) {
      martingale.update(draw(rng));
      if (martingale.log10() >= threshold) {
        crossed++;
        break;
      }
    }
  }
  return crossed;
}

test("on uniform p-values it reaches 1/delta in at most about a delta share of streams (Ville's inequality)", () => {
  // A large delta, so the bound is tight enough to catch a martingale that is not one.
  const delta = 0.2;
  const seeds = 100;
  const crossed = crossings(uniformBets(), (rng) => rng(), seeds, 100_000, delta);
  const allowed = delta + 3 * Math.sqrt((delta * (1 - delta)) / seeds);
  assert.ok(crossed / seeds <= allowed, `${crossed} of ${seeds} streams crossed 1/${delta}`);
});

test('bets whose reference rate is below the true rate grow on clean p-values: the check above can fail', () => {
  // The same bets, but each claims its tail is 20% rarer than it is: no longer a martingale.
  const cheating = uniformBets().map((b) => ({ ...b, reference: b.reference * 0.8 }));
  const crossed = crossings(cheating, (rng) => rng(), 20, 100_000, 0.01);
  assert.ok(crossed >= 18, `only ${crossed} of 20 streams crossed`);
});

test('a shift that starts after half a million clean p-values is found within a few thousand', () => {
  const delta = 0.01;
  const shiftAt = 500_000;
  for (let seed = 0; seed < 5; seed++) {
    const rng = createRng(seed);
    const martingale = new ChangePointMartingale(uniformBets());
    let alarm = -1;
    for (let t = 0; t < shiftAt + 50_000 && alarm < 0; t++) {
      // After the shift, 5% of the p-values land in the extreme tail.
      const p = t >= shiftAt && rng() < 0.05 ? rng() * 0.001 : rng();
      martingale.update(p);
      if (martingale.log10() >= Math.log10(1 / delta)) alarm = t;
    }
    assert.ok(alarm >= shiftAt, `seed ${seed}: a false alarm at ${alarm}`);
    assert.ok(alarm - shiftAt < 5000, `seed ${seed}: found ${alarm - shiftAt} p-values after the shift`);
  }
});

test('bad bets and p-values are refused', () => {
  assert.throws(() => new ChangePointMartingale([]), /at least one bet/);
  assert.throws(() => new ChangePointMartingale([{ threshold: 0.1, reference: 0.1, fraction: 1.5, weight: 1 }]), /out of range/);
  assert.throws(() => new ChangePointMartingale([{ threshold: 0.1, reference: 0.1, fraction: 0.5, weight: 0.5 }]), /sum to 0.5/);
  assert.throws(() => new ChangePointMartingale(uniformBets()).update(Number.NaN), /must be a number/);
});

test('after a huge excursion and a long clean stretch, a second shift still shows', () => {
  // 3,000 hits take the sums past e^14000; without rescaling downwards too, the clean stretch
  // let them underflow and new start points got weight 0: the statistic stayed blind.
  const martingale = new ChangePointMartingale(uniformBets());
  const rng = createRng(8);
  for (let t = 0; t < 3000; t++) martingale.update(0.0001);
  assert.ok(martingale.log10() > 5000);
  for (let t = 0; t < 1_500_000; t++) martingale.update(rng());
  const before = martingale.log10();
  assert.ok(before < 2, `the first excursion has faded: ${before}`);
  for (let t = 0; t < 200; t++) martingale.update(0.0001);
  assert.ok(martingale.log10() > 100, `the second shift: ${martingale.log10()}`);
});
