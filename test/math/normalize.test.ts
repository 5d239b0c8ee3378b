import { test } from 'node:test';
import assert from 'node:assert/strict';
import { l2NormalizeRows, rowNorms } from '../../src/math/normalize.js';

test('rowNorms', () => {
  const m = { data: Float32Array.from([3, 4, 0, 0, 1, 1]), rows: 3, cols: 2 };
  assert.deepEqual(Array.from(rowNorms(m)), [5, 0, Math.SQRT2]);
});

test('l2NormalizeRows gives unit Float32 rows and leaves zero rows zero', () => {
  const m = { data: Float64Array.from([3, 4, 0, 0, -2, 0]), rows: 3, cols: 2 };
  const out = l2NormalizeRows(m);
  assert.ok(out.data instanceof Float32Array);
  assert.equal(out.rows, 3);
  assert.equal(out.cols, 2);
  assert.deepEqual(Array.from(out.data), [Math.fround(0.6), Math.fround(0.8), 0, 0, -1, 0]);
  assert.deepEqual(Array.from(m.data), [3, 4, 0, 0, -2, 0]);
});
