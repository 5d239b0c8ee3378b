import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mspOutlierScores } from '../../src/baselines/msp.js';

test('MSP outlier score is minus the largest probability', () => {
  const probabilities = { data: Float64Array.from([0.7, 0.2, 0.1, 0.5, 0.5, 0, 1 / 3, 1 / 3, 1 / 3]), rows: 3, cols: 3 };
  assert.deepEqual(Array.from(mspOutlierScores(probabilities)), [-0.7, -0.5, -1 / 3]);
});

test('MSP reads Float32 rows and returns float64 scores', () => {
  const scores = mspOutlierScores({ data: Float32Array.from([0.1, 0.9]), rows: 1, cols: 2 });
  assert.ok(scores instanceof Float64Array);
  assert.equal(scores[0], -Math.fround(0.9));
});

test('MSP of no rows is empty; a malformed matrix is rejected', () => {
  assert.equal(mspOutlierScores({ data: new Float32Array(0), rows: 0, cols: 3 }).length, 0);
  assert.throws(() => mspOutlierScores({ data: new Float32Array(5), rows: 2, cols: 3 }), RangeError);
  assert.throws(() => mspOutlierScores({ data: new Float32Array(0), rows: 2, cols: 0 }), RangeError);
});
