import assert from 'node:assert/strict';
import { test } from 'node:test';
import { energyOutlierScores } from '../../src/baselines/energy.js';

function assertClose(actual: ArrayLike<number>, expected: number[], tolerance = 1e-12): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance, `row ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

test('energy is -logsumexp of the logits', () => {
  const logits = { data: Float64Array.from([0, 0, 0, 1, 2, 3]), rows: 2, cols: 3 };
  assertClose(energyOutlierScores(logits), [
    -Math.log(3),
    -Math.log(Math.E + Math.E ** 2 + Math.E ** 3),
  ]);
});

test('energy stays finite for large logits of either sign', () => {
  const logits = { data: Float64Array.from([1000, 1000, 1000, 0, -1000, -1000, 1e6, -1e6]), rows: 4, cols: 2 };
  assertClose(energyOutlierScores(logits), [-(1000 + Math.LN2), -1000, 1000 - Math.LN2, -1e6]);
});

test('a larger maximum logit is less outlying', () => {
  const logits = { data: Float32Array.from([8, 0, 0, 1, 0, 0]), rows: 2, cols: 3 };
  const [confident, flat] = energyOutlierScores(logits);
  assert.ok(confident < flat);
});

test('temperature: -T * logsumexp(logits / T)', () => {
  const logits = { data: Float64Array.from([2, 0]), rows: 1, cols: 2 };
  assertClose(energyOutlierScores(logits, { temperature: 2 }), [-2 * Math.log(Math.E + 1)]);
  assert.throws(() => energyOutlierScores(logits, { temperature: 0 }), RangeError);
});
