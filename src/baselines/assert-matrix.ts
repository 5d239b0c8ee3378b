import type { Matrix } from '../math/matrix.js';

/** Rejects a matrix whose buffer does not hold rows x cols values, or with no columns. */
export function assertMatrix(m: Matrix, role: string, cols?: number): void {
  if (!Number.isInteger(m.rows) || m.rows < 0 || !Number.isInteger(m.cols) || m.cols < 1) {
    throw new RangeError(`${role}: expected a rows x cols matrix with cols >= 1, got ${m.rows} x ${m.cols}`);
  }
  if (m.data.length !== m.rows * m.cols) {
    throw new RangeError(`${role}: expected ${m.rows} x ${m.cols} = ${m.rows * m.cols} values, got ${m.data.length}`);
  }
  if (cols !== undefined && m.cols !== cols) {
    throw new RangeError(`${role}: expected ${cols} columns (the fitted dimension), got ${m.cols}`);
  }
}
