import assert from 'node:assert/strict';
import { it } from 'node:test';
import { recallAtK } from '../../src/neighbors/recall.js';
import type { Neighbors } from '../../src/neighbors/neighbor-index.js';

const neighbors = (...ids: number[]): Neighbors => ({
  ids: Int32Array.from(ids),
  distances: new Float32Array(ids.length),
});

it('recallAtK averages the found fraction of each exact list, ignoring order', () => {
  const exact = [neighbors(1, 2, 3, 4), neighbors(5, 6)];
  assert.equal(recallAtK([neighbors(4, 3, 2, 1), neighbors(5, 7)], exact), (1 + 0.5) / 2);
  assert.equal(recallAtK([neighbors(9, 9, 9, 1, 2, 3), neighbors(6, 5)], exact), (0.25 + 1) / 2);
  assert.equal(recallAtK([neighbors()], [neighbors()]), 1);
  assert.throws(() => recallAtK([neighbors(1)], exact), RangeError);
});
