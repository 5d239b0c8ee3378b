import { HnswParamsSchema } from '../neighbors/hnsw-params.js';
import { UsearchIndex } from '../neighbors/usearch-index.js';
import type { NeighborIndex } from '../neighbors/neighbor-index.js';
import { l2NormalizeRows } from '../math/normalize.js';
import { assertMatrix, type Matrix } from '../math/matrix.js';

/** Builds an empty index for `rows` vectors of `dim` values. */
export type IndexFactory = (dim: number, rows: number) => NeighborIndex;

export interface KnnDistanceOptions {
  /** Which neighbour's distance is the score; Sun et al. 2022 use k = 50 on CIFAR-10. */
  k?: number;
  /** Defaults to an HNSW graph whose efSearch is at least k. */
  index?: IndexFactory;
}

export interface KnnDistanceModel {
  readonly k: number;
  /** The L2-normalised training features. The model owns it: dispose() releases it. */
  readonly index: NeighborIndex;
  dispose(): void;
}

const DEFAULT_K = 50;
// Searching in slices bounds the memory held by the per-query neighbour lists.
const QUERY_BATCH_ROWS = 1024;

/**
 * Indexes the training features for the kNN-distance baseline (Sun et al. 2022).
 *
 * Features are L2-normalised first: on raw penultimate features the distance is dominated by
 * the feature norm, and the paper found normalisation essential (it is what makes the
 * Euclidean distance behave like a cosine distance).
 */
export function fitKnnDistance(features: Matrix, options: KnnDistanceOptions = {}): KnnDistanceModel {
  assertMatrix(features, 'fitKnnDistance');
  const k = options.k ?? DEFAULT_K;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`fitKnnDistance: k must be a positive integer, got ${k}`);
  // The index would clamp k to its size and quietly score with a nearer neighbour.
  if (features.rows < k) {
    throw new RangeError(`fitKnnDistance: k = ${k} needs at least ${k} training rows, got ${features.rows}`);
  }
  const factory = options.index ?? defaultIndex(k);
  const index = factory(features.cols, features.rows);
  try {
    index.addAll(l2NormalizeRows(features).data as Float32Array, features.rows);
  } catch (err) {
    index.dispose();
    throw err;
  }
  return { k, index, dispose: () => index.dispose() };
}

/**
 * Euclidean (not squared) distance from each L2-normalised row to its k-th nearest normalised
 * training feature. Scoring the training features themselves counts each as its own nearest
 * neighbour, as in the paper.
 */
export function knnDistanceOutlierScores(model: KnnDistanceModel, features: Matrix): Float64Array {
  assertMatrix(features, 'knnDistanceOutlierScores', model.index.dim);
  const { k, index } = model;
  const normalised = l2NormalizeRows(features).data as Float32Array;
  const dim = features.cols;
  const out = new Float64Array(features.rows);
  for (let start = 0; start < features.rows; start += QUERY_BATCH_ROWS) {
    const rows = Math.min(QUERY_BATCH_ROWS, features.rows - start);
    const found = index.searchBatch(normalised.subarray(start * dim, (start + rows) * dim), rows, k);
    for (let r = 0; r < rows; r++) {
      const { distances } = found[r];
      if (distances.length < k) {
        throw new RangeError(`knnDistanceOutlierScores: the index returned ${distances.length} neighbours, need ${k}`);
      }
      // The index returns squared distances; rounding can leave a hair below zero.
      out[start + r] = Math.sqrt(Math.max(0, distances[k - 1]));
    }
  }
  return out;
}

function defaultIndex(k: number): IndexFactory {
  const efSearch = Math.max(k, HnswParamsSchema.parse({}).efSearch);
  // f32, as a baseline is published, without the service's storage choice; one insertion
  // thread, so that a baseline's scores are the same from run to run.
  return (dim) => UsearchIndex.create(dim, 'f32', HnswParamsSchema.parse({ efSearch }), { buildThreads: 1 });
}
