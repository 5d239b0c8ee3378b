import assert from 'node:assert/strict';
import { test } from 'node:test';
import { betaQuantile } from '../../src/math/beta.js';
import { DRIFT_FRACTIONS, DRIFT_THRESHOLDS, driftBets, gridThresholds, uniformBets } from '../../src/math/drift-bets.js';

test('thresholds land on the p-value grid j/(n+1), at least one step, without duplicates', () => {
  assert.deepEqual(gridThresholds(750, [0.005, 0.02, 0.1, 0.3]), [4, 15, 75, 225]);
  // A small calibration set cannot tell its extreme tails apart: they merge into its first step.
  assert.deepEqual(gridThresholds(10, [0.005, 0.02, 0.1, 0.3]), [1, 3]);
});

test("each bet's reference rate is the Beta(j, n+1-j) upper quantile, above the nominal j/(n+1)", () => {
  const n = 2500;
  const risk = 0.0025;
  const bets = driftBets({ calibrationSize: n, risk });
  assert.equal(bets.length, DRIFT_THRESHOLDS.length * DRIFT_FRACTIONS.length);
  const steps = gridThresholds(n, DRIFT_THRESHOLDS);
  for (const [i, j] of steps.entries()) {
    const bet = bets[i * DRIFT_FRACTIONS.length];
    // A p-value of exactly j/(n+1) is a hit, and (j+1)/(n+1) is not.
    assert.ok(j / (n + 1) <= bet.threshold && bet.threshold < (j + 1) / (n + 1));
    assert.equal(bet.reference, betaQuantile(1 - risk / steps.length, j, n + 1 - j));
    assert.ok(bet.reference > j / (n + 1));
  }
  assert.ok(Math.abs(bets.reduce((s, b) => s + b.weight, 0) - 1) < 1e-12);
  // The tolerance shrinks as the calibration set grows.
  const small = driftBets({ calibrationSize: 750, risk })[0].reference / (4 / 751);
  const large = bets[0].reference / (steps[0] / (n + 1));
  assert.ok(small > large, `${small} vs ${large}`);
});

test('exact bets and uniform bets reference the nominal rate', () => {
  for (const bet of driftBets({ calibrationSize: 750, risk: 0.01, exact: true })) assert.ok(Math.abs(bet.reference - (bet.threshold * 751 - 0.5) / 751) < 1e-12);
  for (const bet of uniformBets()) assert.equal(bet.reference, bet.threshold);
});

test('bad sizes and risks are refused', () => {
  assert.throws(() => driftBets({ calibrationSize: 0, risk: 0.01 }), /positive integer/);
  assert.throws(() => driftBets({ calibrationSize: 100, risk: 0 }), /risk/);
});
