import { Index, MetricKind, type BatchMatches, type Matches, type NativeIndex, type ScalarKind, toNeighbors } from './usearch-binding.js';
import { OodError } from '../errors.js';
import type { HnswParams } from './hnsw-params.js';
import type { NeighborIndex, Neighbors } from './neighbor-index.js';
import type { Storage } from './storage.js';
import { checkUsearchFile } from './usearch-file.js';
import { assertBatch, assertDim, clampK } from './vector-batch.js';


/** i8 distances come back in units of the stored integers; this brings them to the vectors' own scale. */
const I8_SCALE = 127 * 127;

export interface UsearchOptions {
  /** Native threads for insertions; 0 means every core. */
  buildThreads?: number;
  /** Native threads for one batched search. 1 runs it on the calling thread, with no thread started. */
  searchThreads?: number;
}

/**
 * Approximate k nearest neighbours over a usearch HNSW graph in squared Euclidean ("l2sq")
 * space, matching ExactIndex. A batch is searched in one native call, straight from the
 * Float32Array, and a saved graph can be memory-mapped (`map`), so every thread that maps the
 * same file shares one copy of it in the page cache.
 *
 * usearch has no explicit free: dispose() drops the reference and the garbage collector
 * releases the native memory (or unmaps the file).
 */
export class UsearchIndex implements NeighborIndex {
  readonly dim: number;
  readonly storage: Storage;
  readonly params: HnswParams;
  private native: NativeIndex | null;
  private readonly buildThreads: number;
  private readonly searchThreads: number;
  private readonly mapped: boolean;

  private constructor(dim: number, storage: Storage, params: HnswParams, native: NativeIndex, options: UsearchOptions, mapped: boolean) {
    this.dim = dim;
    this.storage = storage;
    this.params = params;
    this.native = native;
    this.buildThreads = options.buildThreads ?? 0;
    this.searchThreads = options.searchThreads ?? 1;
    this.mapped = mapped;
  }

  private static native(dim: number, storage: Storage, params: HnswParams): NativeIndex {
    return new Index({
      dimensions: dim,
      metric: MetricKind.L2sq,
      quantization: storage as ScalarKind,
      connectivity: params.M,
      expansion_add: params.efConstruction,
      expansion_search: params.efSearch,
      multi: false,
    });
  }

  static create(dim: number, storage: Storage, params: HnswParams, options: UsearchOptions = {}): UsearchIndex {
    assertDim(dim);
    return new UsearchIndex(dim, storage, params, UsearchIndex.native(dim, storage, params), options, false);
  }

  /**
   * Opens a file written by save(): read into memory, or memory-mapped when `map` is set (the
   * index is then read-only). usearch trusts the file, so it is checked structurally first
   * (usearch-file.ts), against the width, storage and M the caller expects.
   */
  static async open(path: string, dim: number, storage: Storage, params: HnswParams, options: UsearchOptions & { map?: boolean } = {}): Promise<UsearchIndex> {
    assertDim(dim);
    const { count } = await checkUsearchFile(path, dim, storage, params.M);
    const native = UsearchIndex.native(dim, storage, params);
    try {
      if (options.map) native.view(path);
      else native.load(path);
    } catch (err) {
      throw new OodError('CACHE_INVALID', `usearch index ${path} could not be ${options.map ? 'mapped' : 'loaded'}`, { cause: err });
    }
    if (native.size() !== count) throw new OodError('CACHE_INVALID', `usearch index ${path} changed while loading (${native.size()} vs ${count})`);
    return new UsearchIndex(dim, storage, params, native, options, options.map ?? false);
  }

  get size(): number {
    return this.native?.size() ?? 0;
  }

  addAll(vectors: Float32Array, rows: number): void {
    const native = this.open();
    if (this.mapped) throw new Error('UsearchIndex: a memory-mapped index is read-only');
    assertBatch(vectors, rows, this.dim, 'addAll');
    if (rows === 0) return;
    const start = native.size();
    const keys = new BigUint64Array(rows);
    for (let r = 0; r < rows; r++) keys[r] = BigInt(start + r);
    native.add(keys, vectors, this.buildThreads);
  }

  searchBatch(queries: Float32Array, rows: number, k: number): Neighbors[] {
    const native = this.open();
    assertBatch(queries, rows, this.dim, 'searchBatch');
    const kEff = clampK(k, native.size());
    if (kEff === 0 || rows === 0) return Array.from({ length: rows }, () => ({ ids: new Int32Array(0), distances: new Float32Array(0) }));
    // Several rows in one call: usearch's own batch path, which also returns how many each found.
    const found = native.search(queries, kEff, this.searchThreads) as Matches | BatchMatches;
    return toNeighbors(found, rows, kEff, this.storage === 'i8' ? 1 / I8_SCALE : 1);
  }

  save(path: string): Promise<void> {
    const native = this.open();
    if (native.size() === 0) return Promise.reject(new RangeError('Refusing to save an empty index'));
    try {
      native.save(path);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  dispose(): void {
    this.native = null;
  }

  private open(): NativeIndex {
    if (this.native === null) throw new Error('UsearchIndex has been disposed');
    return this.native;
  }
}
