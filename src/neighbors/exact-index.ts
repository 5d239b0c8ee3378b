import { open, readFile } from 'node:fs/promises';
import { OodError } from '../errors.js';
import type { NeighborIndex, Neighbors } from './neighbor-index.js';
import { assertBatch, assertDim, clampK } from './vector-batch.js';

// File layout: 'OODX', u32 version, u32 dim, u32 size (little-endian), then size x dim float32.
// Float data is written in the platform's byte order, as hnswlib does for its own files.
const MAGIC = 0x58444f4f; // 'OODX' read as a little-endian u32
const VERSION = 1;
const HEADER_BYTES = 16;

/**
 * Brute-force k nearest neighbours by squared Euclidean distance. It is the oracle the HNSW
 * index is tested against, so it favours being obviously right: ties go to the smaller id,
 * which makes its answers deterministic.
 */
export class ExactIndex implements NeighborIndex {
  readonly dim: number;
  private count = 0;
  private data: Float32Array;

  constructor(dim: number, capacity = 0) {
    assertDim(dim);
    this.dim = dim;
    this.data = new Float32Array(Math.max(0, capacity) * dim);
  }

  get size(): number {
    return this.count;
  }

  static async load(path: string, expectedDim?: number): Promise<ExactIndex> {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      throw new OodError('CACHE_INVALID', `Cannot read exact index ${path}`, { cause: err });
    }
    const invalid = (why: string) => new OodError('CACHE_INVALID', `Exact index ${path} is invalid: ${why}`);
    if (bytes.length < HEADER_BYTES) throw invalid(`truncated header (${bytes.length} bytes)`);
    const header = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
    if (header.getUint32(0, true) !== MAGIC) throw invalid('not an exact index file (bad magic)');
    const version = header.getUint32(4, true);
    if (version !== VERSION) throw invalid(`unsupported version ${version}`);
    const dim = header.getUint32(8, true);
    const size = header.getUint32(12, true);
    if (dim < 1) throw invalid('dim is 0');
    if (size < 1) throw invalid('it holds no vectors');
    if (expectedDim !== undefined && dim !== expectedDim) {
      throw invalid(`vectors are ${dim}-dimensional, expected ${expectedDim}`);
    }
    const expectedBytes = HEADER_BYTES + size * dim * 4;
    if (bytes.length !== expectedBytes) {
      throw invalid(`expected ${expectedBytes} bytes for ${size} x ${dim}, found ${bytes.length} (truncated?)`);
    }
    const index = new ExactIndex(dim, size);
    // Copy through bytes: the Buffer's offset need not be 4-byte aligned for a Float32Array view.
    new Uint8Array(index.data.buffer).set(bytes.subarray(HEADER_BYTES));
    index.count = size;
    return index;
  }

  addAll(vectors: Float32Array, rows: number): void {
    assertBatch(vectors, rows, this.dim, 'addAll');
    const needed = (this.count + rows) * this.dim;
    if (needed > this.data.length) {
      // Doubling keeps repeated small batches amortised linear.
      const grown = new Float32Array(Math.max(needed, this.data.length * 2));
      grown.set(this.data.subarray(0, this.count * this.dim));
      this.data = grown;
    }
    this.data.set(vectors, this.count * this.dim);
    this.count += rows;
  }

  searchBatch(queries: Float32Array, rows: number, k: number): Neighbors[] {
    assertBatch(queries, rows, this.dim, 'searchBatch');
    const kEff = clampK(k, this.count);
    const heap = new TopK(kEff);
    const results: Neighbors[] = [];
    for (let q = 0; q < rows; q++) {
      heap.clear();
      this.scan(queries, q * this.dim, heap);
      results.push(heap.drainSorted());
    }
    return results;
  }

  async save(path: string): Promise<void> {
    if (this.count === 0) throw new RangeError('Refusing to save an empty index');
    const header = new DataView(new ArrayBuffer(HEADER_BYTES));
    header.setUint32(0, MAGIC, true);
    header.setUint32(4, VERSION, true);
    header.setUint32(8, this.dim, true);
    header.setUint32(12, this.count, true);
    const file = await open(path, 'w');
    try {
      await file.write(new Uint8Array(header.buffer));
      await file.write(new Uint8Array(this.data.buffer, 0, this.count * this.dim * 4));
    } finally {
      await file.close();
    }
  }

  dispose(): void {
    this.data = new Float32Array(0);
    this.count = 0;
  }

  private scan(queries: Float32Array, offset: number, heap: TopK): void {
    const { dim, data } = this;
    for (let id = 0, base = 0; id < this.count; id++, base += dim) {
      let sum = 0;
      for (let j = 0; j < dim; j++) {
        const diff = data[base + j] - queries[offset + j];
        sum += diff * diff;
      }
      heap.offer(id, sum);
    }
  }
}

/**
 * The k best (smallest distance, then smallest id) candidates seen so far, as a bounded
 * max-heap: each candidate costs O(1) when it is no better than the current worst, which is
 * most of them, and O(log k) otherwise.
 */
class TopK {
  private readonly ids: Int32Array;
  private readonly distances: Float64Array;
  private length = 0;

  constructor(private readonly k: number) {
    this.ids = new Int32Array(k);
    this.distances = new Float64Array(k);
  }

  clear(): void {
    this.length = 0;
  }

  offer(id: number, distance: number): void {
    if (this.length < this.k) {
      this.ids[this.length] = id;
      this.distances[this.length] = distance;
      this.length++;
      this.siftUp(this.length - 1);
    } else if (this.k > 0 && this.worse(0, id, distance)) {
      this.ids[0] = id;
      this.distances[0] = distance;
      this.siftDown(0);
    }
  }

  /** Empties the heap into a result ordered nearest first. */
  drainSorted(): Neighbors {
    const n = this.length;
    const ids = new Int32Array(n);
    const distances = new Float32Array(n);
    // Popping the max repeatedly fills the output from the back: a heap sort, O(k log k).
    for (let out = n - 1; out >= 0; out--) {
      ids[out] = this.ids[0];
      distances[out] = this.distances[0];
      this.length--;
      this.ids[0] = this.ids[this.length];
      this.distances[0] = this.distances[this.length];
      this.siftDown(0);
    }
    return { ids, distances };
  }

  /** Whether the entry at slot i ranks after the candidate (id, distance). */
  private worse(i: number, id: number, distance: number): boolean {
    const d = this.distances[i];
    return d > distance || (d === distance && this.ids[i] > id);
  }

  private siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.worse(i, this.ids[parent], this.distances[parent])) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private siftDown(i: number): void {
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.length) return;
      const right = left + 1;
      let largest = left;
      if (right < this.length && this.worse(right, this.ids[left], this.distances[left])) largest = right;
      if (!this.worse(largest, this.ids[i], this.distances[i])) return;
      this.swap(i, largest);
      i = largest;
    }
  }

  private swap(a: number, b: number): void {
    const id = this.ids[a];
    this.ids[a] = this.ids[b];
    this.ids[b] = id;
    const d = this.distances[a];
    this.distances[a] = this.distances[b];
    this.distances[b] = d;
  }
}
