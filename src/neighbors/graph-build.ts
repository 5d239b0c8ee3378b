import { exactSearch, MetricKind, toNeighbors } from './usearch-binding.js';
import { createGraph, type GraphSpec } from './graph-engine.js';
import type { NeighborIndex, Neighbors } from './neighbor-index.js';
import { recallAtK } from './recall.js';
import type { Storage } from './storage.js';

/** The recall@k a compact storage must keep against an exact search, or the layer is stored f32. */
export const MIN_RECALL = 0.99;

/** Held-out rows (never inserted) that measure a graph's recall: the calibration set's, normalised as served. */
export interface RecallProbe {
  data: Float32Array;
  rows: number;
  k: number;
}

export interface GraphBuildJob {
  vectors: Float32Array;
  rows: number;
  dim: number;
  spec: GraphSpec;
  probe?: RecallProbe;
  /** Native insertion threads; 0 means every core. */
  buildThreads: number;
}

/** What was built: the storage it ended with, and the recall that decided it. */
export interface GraphOutcome {
  storage: Storage;
  /** recall@k of the stored graph on the probe rows, when there was a probe. */
  recall?: number;
  /** The compact storage tried first and given up, with its recall. */
  rejected?: { storage: Storage; recall: number };
}

export interface InsertPacing {
  /** Rows per insertion call. */
  chunkRows: number;
  /** Called after each call with the rows inserted so far (a progress bar, a pause for the event loop). */
  after?: (done: number) => void | Promise<void>;
}

/** The exact k nearest stored rows of each probe row: usearch's brute-force scan, in f32, on every core. */
export function exactNeighbors(vectors: Float32Array, rows: number, dim: number, probe: RecallProbe): Neighbors[] {
  const k = Math.min(probe.k, rows);
  const found = exactSearch(vectors, probe.data, dim, k, MetricKind.L2sq, 0);
  return toNeighbors(found, probe.rows, k);
}

async function insert(index: NeighborIndex, job: GraphBuildJob, pacing: InsertPacing): Promise<void> {
  const { vectors, rows, dim } = job;
  for (let start = 0; start < rows; start += pacing.chunkRows) {
    const n = Math.min(pacing.chunkRows, rows - start);
    index.addAll(vectors.subarray(start * dim, (start + n) * dim), n);
    await pacing.after?.(start + n);
  }
}

/**
 * Builds one layer's graph. `auto` storage tries f16 first and keeps it when its recall@k on
 * the probe rows is at least MIN_RECALL against an exact scan, else rebuilds in f32: the
 * memory and speed of f16 are only worth having where the neighbours stay the same.
 */
export async function buildGraph(job: GraphBuildJob, pacing: InsertPacing): Promise<{ index: NeighborIndex; outcome: GraphOutcome }> {
  const { spec, dim, rows, probe } = job;
  const auto = spec.storage === 'auto';
  const first: Storage = spec.storage !== 'auto' ? spec.storage : spec.engine === 'usearch' ? 'f16' : 'f32';
  const build = async (storage: Storage) => {
    const index = await createGraph(spec.engine, storage, dim, rows, spec.params, { buildThreads: job.buildThreads });
    await insert(index, job, pacing);
    return index;
  };
  let index = await build(first);
  if (!probe || probe.rows === 0) return { index, outcome: { storage: first } };
  const exact = exactNeighbors(job.vectors, rows, dim, probe);
  const recall = recallAtK(index.searchBatch(probe.data, probe.rows, probe.k), exact);
  if (!auto || first === 'f32' || recall >= MIN_RECALL) return { index, outcome: { storage: first, recall } };
  index.dispose();
  index = await build('f32');
  const kept = recallAtK(index.searchBatch(probe.data, probe.rows, probe.k), exact);
  return { index, outcome: { storage: 'f32', recall: kept, rejected: { storage: first, recall } } };
}
