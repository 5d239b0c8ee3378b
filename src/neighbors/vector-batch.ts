/**
 * Argument checks shared by every NeighborIndex, so both implementations reject the same
 * malformed calls with the same messages (the contract test relies on it).
 */
export function assertBatch(vectors: Float32Array, rows: number, dim: number, role: string): void {
  if (!Number.isInteger(rows) || rows < 0) {
    throw new RangeError(`${role}: rows must be a non-negative integer, got ${rows}`);
  }
  if (vectors.length !== rows * dim) {
    throw new RangeError(
      `${role}: expected ${rows} x ${dim} = ${rows * dim} values, got ${vectors.length} (dimension mismatch?)`,
    );
  }
}

export function clampK(k: number, size: number): number {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  return Math.min(k, size);
}

export function assertDim(dim: number): void {
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`dim must be a positive integer, got ${dim}`);
}
