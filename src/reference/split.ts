import { OodError } from '../errors.js';
import { createRng, permutation } from '../math/random.js';
import type { ReferenceSplit } from './manifest.js';
import { allRows } from './sources/labeled-data.js';

/** Row indices of each part; train and calibration index the pool, test indexes its own pool. */
export interface SplitIndices {
  train: Int32Array;
  calibration: Int32Array;
  test: Int32Array;
}

/**
 * Consecutive slices of one seeded permutation of 0..total-1, one per size, in the order given.
 * The slices are disjoint by construction, and a slice depends only on the sizes before it.
 */
export function carve(total: number, sizes: readonly number[], seed: number): Int32Array[] {
  const needed = sizes.reduce((a, b) => a + b, 0);
  if (sizes.some((size) => !Number.isInteger(size) || size < 0) || needed > total) {
    throw new OodError('CONFIG_INVALID', `Cannot carve parts of [${sizes.join(', ')}] rows from ${total} rows`);
  }
  const order = permutation(total, createRng(seed));
  const parts: Int32Array[] = [];
  let start = 0;
  for (const size of sizes) {
    parts.push(order.slice(start, start + size));
    start += size;
  }
  return parts;
}

/**
 * Applies a manifest's split (see SplitSchema in manifest.ts for the rule). `testPoolSize` is null
 * when the source has no test file, so test is carved from the pool as well.
 */
export function splitIndices(split: ReferenceSplit, poolSize: number, testPoolSize: number | null): SplitIndices {
  if (testPoolSize === null) {
    if (split.test === 'all') {
      throw new OodError('CONFIG_INVALID', 'split.test must be a count when test is carved from the pool');
    }
    const train = resolveTrain(split, poolSize, split.calibration + split.test);
    const [calibration, test, trainRows] = carve(poolSize, [split.calibration, split.test, train], split.seed);
    return { train: trainRows, calibration, test };
  }

  const train = resolveTrain(split, poolSize, split.calibration);
  const [calibration, trainRows] = carve(poolSize, [split.calibration, train], split.seed);
  if (split.test !== 'all' && split.test > testPoolSize) {
    throw new OodError('CONFIG_INVALID', `split.test asks for ${split.test} rows but the test file holds ${testPoolSize}`);
  }
  const test = split.test === 'all' ? allRows(testPoolSize) : allRows(split.test);
  return { train: trainRows, calibration, test };
}

function resolveTrain(split: ReferenceSplit, poolSize: number, heldOut: number): number {
  const available = poolSize - heldOut;
  const train = split.train === 'rest' ? available : split.train;
  if (train < 1 || train > available) {
    throw new OodError(
      'CONFIG_INVALID',
      `split asks for ${split.train} train rows besides ${heldOut} held-out rows, but the pool holds ${poolSize}`,
    );
  }
  return train;
}
