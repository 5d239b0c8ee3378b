import { createRequire } from 'node:module';
import { OodError } from '../errors.js';
import { checkHnswFile } from './hnsw-file.js';
import { HnswParamsSchema, type HnswParams, type HnswParamsInput } from './hnsw-params.js';
import type { NeighborIndex, Neighbors } from './neighbor-index.js';
import { assertBatch, assertDim, clampK } from './vector-batch.js';

/**
 * The part of hnswlib-node's HierarchicalNSW used here. hnswlib-node is an optional dependency
 * (it compiles at install time), so its own types may be absent where this file is compiled;
 * requiring it throws where the package is, and graph-engine.ts says what to install.
 */
interface HierarchicalNSW {
  initIndex(options: { maxElements: number; m: number; efConstruction: number; randomSeed: number }): void;
  readIndex(path: string): Promise<boolean>;
  writeIndex(path: string): Promise<boolean>;
  getCurrentCount(): number;
  getMaxElements(): number;
  resizeIndex(maxElements: number): void;
  addPoint(point: number[], label: number): void;
  setEf(ef: number): void;
  searchKnn(query: number[], k: number): { neighbors: number[]; distances: number[] };
}
const hnswlib = createRequire(import.meta.url)('hnswlib-node') as { HierarchicalNSW: new (space: 'l2', dim: number) => HierarchicalNSW };


/**
 * Approximate k nearest neighbours over an hnswlib graph in 'l2' space, whose distances are
 * squared Euclidean (no square root), matching ExactIndex.
 *
 * hnswlib-node has no way to free its native memory: dispose() drops the reference and the
 * garbage collector releases it.
 */
export class HnswIndex implements NeighborIndex {
  readonly dim: number;
  readonly params: HnswParams;
  private native: HierarchicalNSW | null;
  private capacity: number;
  private ef = -1;
  private saving = false;
  // hnswlib-node only accepts plain arrays, so every vector is copied into this one reusable
  // array rather than allocating a new one per row.
  private readonly scratch: number[];

  private constructor(dim: number, native: HierarchicalNSW, capacity: number, params: HnswParams) {
    this.dim = dim;
    this.native = native;
    this.capacity = capacity;
    this.params = params;
    this.scratch = new Array<number>(dim).fill(0);
  }

  static create(dim: number, capacity: number, params: HnswParamsInput = {}): HnswIndex {
    assertDim(dim);
    const parsed = HnswParamsSchema.parse(params);
    // hnswlib cannot start from zero capacity; addAll grows it anyway.
    const initial = Math.max(1, Math.floor(capacity));
    const native = new hnswlib.HierarchicalNSW('l2', dim);
    native.initIndex({
      maxElements: initial,
      m: parsed.M,
      efConstruction: parsed.efConstruction,
      randomSeed: parsed.seed,
    });
    return new HnswIndex(dim, native, initial, parsed);
  }

  /**
   * Loads a file written by save(). The file is checked structurally first (see hnsw-file.ts)
   * because the native loader can crash the process on a corrupt header. Points added after a
   * load draw their levels from hnswlib's default seed, not params.seed: the file does not
   * keep the generator state.
   */
  static async load(path: string, dim: number, params: HnswParamsInput = {}): Promise<HnswIndex> {
    assertDim(dim);
    const parsed = HnswParamsSchema.parse(params);
    const info = await checkHnswFile(path, dim, parsed.M);
    // A failed readIndex leaves the native object pointing at freed memory, so this instance
    // is dropped on failure rather than reused.
    const native = new hnswlib.HierarchicalNSW('l2', dim);
    try {
      await native.readIndex(path);
    } catch (err) {
      throw new OodError('CACHE_INVALID', `HNSW index ${path} could not be loaded`, { cause: err });
    }
    const loaded = native.getCurrentCount();
    if (loaded !== info.count) {
      throw new OodError('CACHE_INVALID', `HNSW index ${path} changed while loading (${loaded} vs ${info.count})`);
    }
    return new HnswIndex(dim, native, native.getMaxElements(), parsed);
  }

  get size(): number {
    return this.native?.getCurrentCount() ?? 0;
  }

  addAll(vectors: Float32Array, rows: number): void {
    const native = this.open();
    // The async writer reads the graph on a worker thread; inserting now would race with it.
    if (this.saving) throw new Error('HnswIndex: cannot add while a save is in progress');
    assertBatch(vectors, rows, this.dim, 'addAll');
    const start = native.getCurrentCount();
    const needed = start + rows;
    if (needed > this.capacity) {
      this.capacity = Math.max(needed, this.capacity * 2);
      native.resizeIndex(this.capacity);
    }
    for (let r = 0; r < rows; r++) {
      native.addPoint(this.copyRow(vectors, r), start + r);
    }
  }

  searchBatch(queries: Float32Array, rows: number, k: number): Neighbors[] {
    const native = this.open();
    assertBatch(queries, rows, this.dim, 'searchBatch');
    const kEff = clampK(k, native.getCurrentCount());
    const results: Neighbors[] = [];
    if (kEff === 0) {
      for (let r = 0; r < rows; r++) results.push({ ids: new Int32Array(0), distances: new Float32Array(0) });
      return results;
    }
    // A candidate list shorter than k cannot hold k answers. hnswlib also takes max(ef, k)
    // internally, but setting it here keeps getEf() truthful.
    const ef = Math.max(this.params.efSearch, kEff);
    if (ef !== this.ef) {
      native.setEf(ef);
      this.ef = ef;
    }
    for (let r = 0; r < rows; r++) {
      const found = native.searchKnn(this.copyRow(queries, r), kEff);
      results.push({ ids: new Int32Array(found.neighbors), distances: new Float32Array(found.distances) });
    }
    return results;
  }

  async save(path: string): Promise<void> {
    const native = this.open();
    const count = native.getCurrentCount();
    if (count === 0) throw new RangeError('Refusing to save an empty index');
    if (this.saving) throw new Error('HnswIndex: a save is already in progress');
    // hnswlib allocates the stored capacity when loading; storing exactly the count lets
    // load() treat any other capacity as corruption instead of a possible huge allocation.
    if (this.capacity !== count) {
      native.resizeIndex(count);
      this.capacity = count;
    }
    this.saving = true;
    try {
      await native.writeIndex(path);
    } finally {
      this.saving = false;
    }
  }

  dispose(): void {
    // A pending save keeps its own reference to the native object, so dropping ours is safe.
    this.native = null;
  }

  private open(): HierarchicalNSW {
    if (this.native === null) throw new Error('HnswIndex has been disposed');
    return this.native;
  }

  private copyRow(vectors: Float32Array, row: number): number[] {
    const offset = row * this.dim;
    for (let j = 0; j < this.dim; j++) this.scratch[j] = vectors[offset + j];
    return this.scratch;
  }
}
