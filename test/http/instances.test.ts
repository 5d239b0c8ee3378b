import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OodError } from '../../src/errors.js';
import { toInputBatch } from '../../src/http/instances.js';

describe('toInputBatch', () => {
  it('flattens nested instances row-major into one buffer', () => {
    const batch = toInputBatch(
      [
        [
          [1, 2, 3],
          [4, 5, 6],
        ],
        [7, 8, 9, 10, 11, 12],
      ],
      [2, 3],
    );
    assert.deepEqual(Array.from(batch), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('accepts any rectangular nesting of the right size', () => {
    assert.deepEqual(Array.from(toInputBatch([[[[1], [2]], [[3], [4]]]], [4])), [1, 2, 3, 4]);
  });

  it('rejects a ragged instance even when its size happens to match', () => {
    assert.throws(
      () => toInputBatch([[[1, 2, 3], [4]]], [4]),
      (err: unknown) => err instanceof OodError && err.code === 'INVALID_INSTANCE',
    );
  });

  it('rejects numbers and arrays mixed at one level', () => {
    assert.throws(() => toInputBatch([[[1, 2], 3]], [4]), /instances\[0\]\[1\] should be an array of 2 elements/);
  });
});
