import { selectRows } from '../math/matrix.js';
import { createRng, permutation } from '../math/random.js';
import type { LabeledData } from '../reference/sources/labeled-data.js';

/**
 * At most `limit` rows drawn without replacement by a seeded permutation, kept in their original
 * order. SNNL costs O(n^2) per temperature, so analysis reads it on a sample; the seed makes the
 * sample, and so the number, reproducible.
 */
export function seededSample(data: LabeledData, limit: number, seed: number): LabeledData {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  if (limit >= data.x.rows) return data;
  const indices = permutation(data.x.rows, createRng(seed)).slice(0, limit).sort();
  return { x: selectRows(data.x, indices), labels: Int32Array.from(indices, (i) => data.labels[i]) };
}
