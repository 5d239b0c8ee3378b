/**
 * A k-nearest-neighbour index over fixed-dimension float vectors. Two implementations share
 * one contract test: the exact brute-force index (the oracle) and the HNSW graph.
 *
 * Distances are squared Euclidean ("l2" space in hnswlib terms). Callers L2-normalise the
 * vectors first when they want cosine geometry.
 */
export interface Neighbors {
  /** Ids (insertion order, 0-based) of the neighbours, nearest first. */
  ids: Int32Array;
  /** Squared Euclidean distances, ascending, aligned with ids. */
  distances: Float32Array;
}

export interface NeighborIndex {
  readonly dim: number;
  readonly size: number;
  /** Insert vectors; ids continue from the current size. `vectors` is row-major, rows x dim. */
  addAll(vectors: Float32Array, rows: number): void;
  /** k nearest neighbours of each query row; k is clamped to size. */
  searchBatch(queries: Float32Array, rows: number, k: number): Neighbors[];
  /** Persist to a file (the caller makes the write atomic by writing to a temp path). */
  save(path: string): Promise<void>;
  dispose(): void;
}
