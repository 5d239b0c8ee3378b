import assert from 'node:assert/strict';
import { test } from 'node:test';
import { betaCdf, betaQuantile, logGamma } from '../../src/math/beta.js';
import { createRng } from '../../src/math/random.js';

const close = (actual: number, expected: number, tolerance: number, what = '') =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what} ${actual} is not within ${tolerance} of ${expected}`);

test('logGamma matches factorials and Γ(1/2) = √π', () => {
  close(logGamma(1), 0, 1e-13);
  close(logGamma(5), Math.log(24), 1e-12);
  close(logGamma(101), [...Array(100).keys()].reduce((s, i) => s + Math.log(i + 1), 0), 1e-9);
  close(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-13);
  assert.throws(() => logGamma(0), RangeError);
});

/** P(Binomial(n, x) >= j), summed term by term in log space. */
function binomialUpperTail(n: number, x: number, j: number): number {
  let sum = 0;
  for (let i = j; i <= n; i++) sum += Math.exp(logGamma(n + 1) - logGamma(i + 1) - logGamma(n - i + 1) + i * Math.log(x) + (n - i) * Math.log1p(-x));
  return sum;
}

test('betaCdf matches its closed forms and the binomial identity I_x(j, n+1-j) = P(Bin(n, x) >= j)', () => {
  close(betaCdf(0.3, 1, 20), 1 - 0.7 ** 20, 1e-13, 'Beta(1, 20)');
  close(betaCdf(0.3, 4, 1), 0.3 ** 4, 1e-13, 'Beta(4, 1)');
  close(betaCdf(0.5, 2, 3), 11 / 16, 1e-13, 'Beta(2, 3)');
  for (const [n, j, x] of [[750, 4, 0.004], [2500, 12, 0.006], [2500, 750, 0.31], [3000, 15, 0.002]]) {
    close(betaCdf(x, j, n + 1 - j), binomialUpperTail(n, x, j), 1e-10, `n=${n} j=${j} x=${x}`);
  }
  assert.equal(betaCdf(0, 2, 3), 0);
  assert.equal(betaCdf(1, 2, 3), 1);
});

test('betaQuantile inverts betaCdf', () => {
  close(betaQuantile(0.99, 1, 750), 1 - 0.01 ** (1 / 750), 1e-12, 'Beta(1, 750)');
  for (const [q, a, b] of [[0.5, 3, 3], [0.9975, 12, 2490], [0.01, 40, 700]]) {
    close(betaCdf(betaQuantile(q, a, b), a, b), q, 1e-10, `q=${q} a=${a} b=${b}`);
  }
  close(betaQuantile(0.5, 3, 3), 0.5, 1e-12, 'a symmetric median');
});

test('the rate p <= j/(n+1) a calibration set gives a fresh input exceeds the Beta(j, n+1-j) q-quantile in about 1 - q of sets', () => {
  // The fact the drift bets' tolerance rests on, simulated: scores uniform, so a fresh input's
  // p <= j/(n+1) exactly when its score is above the j-th largest calibration score.
  const n = 100;
  const j = 5;
  const q = 0.9;
  const bound = betaQuantile(q, j, n + 1 - j);
  const rng = createRng(3);
  const sets = 4000;
  let above = 0;
  for (let s = 0; s < sets; s++) {
    const scores = Float64Array.from({ length: n }, rng).sort();
    const rate = 1 - scores[n - j];
    if (rate > bound) above++;
  }
  // 1 - q = 0.1, with a binomial standard deviation of 0.0047 over 4000 sets.
  close(above / sets, 1 - q, 0.02, 'share of calibration sets above the quantile');
});
