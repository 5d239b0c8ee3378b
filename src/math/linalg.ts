/**
 * Dense symmetric positive-definite linear algebra in float64: Cholesky factorisation and the
 * triangular solves built on it. Matrices are row-major n x n Float64Arrays.
 */

/** Raised when a pivot is not positive: the matrix is not (numerically) positive definite. */
export class NotPositiveDefiniteError extends RangeError {
  constructor(readonly pivotIndex: number, readonly pivot: number) {
    super(`matrix is not positive definite (pivot ${pivotIndex} is ${pivot})`);
    this.name = 'NotPositiveDefiniteError';
  }
}

function assertSquare(a: ArrayLike<number>, n: number, role: string): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${role}: n must be a positive integer, got ${n}`);
  if (a.length !== n * n) throw new RangeError(`${role}: expected ${n} x ${n} = ${n * n} values, got ${a.length}`);
}

function assertVector(b: ArrayLike<number>, n: number, role: string): void {
  if (b.length !== n) throw new RangeError(`${role}: expected a vector of ${n} values, got ${b.length}`);
}

/**
 * The lower-triangular L with A = L L^T. Only the lower triangle of `a` is read, so a caller
 * that accumulates a symmetric matrix need fill just that half. The upper triangle of the
 * result is zero.
 */
export function cholesky(a: Float64Array, n: number): Float64Array {
  assertSquare(a, n, 'cholesky');
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const rowJ = j * n;
    let pivot = a[rowJ + j];
    for (let p = 0; p < j; p++) pivot -= l[rowJ + p] * l[rowJ + p];
    // `!(pivot > 0)` also catches NaN, which would otherwise spread silently through L.
    if (!(pivot > 0)) throw new NotPositiveDefiniteError(j, pivot);
    const diag = Math.sqrt(pivot);
    l[rowJ + j] = diag;
    for (let i = j + 1; i < n; i++) {
      const rowI = i * n;
      let sum = a[rowI + j];
      for (let p = 0; p < j; p++) sum -= l[rowI + p] * l[rowJ + p];
      l[rowI + j] = sum / diag;
    }
  }
  return l;
}

/** Solves L y = b by forward substitution (L lower triangular, as from cholesky). */
export function solveLower(
  l: Float64Array,
  n: number,
  b: ArrayLike<number>,
  out: Float64Array = new Float64Array(n),
): Float64Array {
  assertSquare(l, n, 'solveLower');
  assertVector(b, n, 'solveLower');
  assertVector(out, n, 'solveLower output');
  for (let i = 0; i < n; i++) {
    const rowI = i * n;
    let sum = b[i];
    for (let p = 0; p < i; p++) sum -= l[rowI + p] * out[p];
    out[i] = sum / l[rowI + i];
  }
  return out;
}

/** Solves L^T x = y by back substitution, reading L (lower triangular) without transposing it. */
export function solveLowerTransposed(
  l: Float64Array,
  n: number,
  y: ArrayLike<number>,
  out: Float64Array = new Float64Array(n),
): Float64Array {
  assertSquare(l, n, 'solveLowerTransposed');
  assertVector(y, n, 'solveLowerTransposed');
  assertVector(out, n, 'solveLowerTransposed output');
  for (let i = n - 1; i >= 0; i--) {
    let sum = y[i];
    for (let p = i + 1; p < n; p++) sum -= l[p * n + i] * out[p];
    out[i] = sum / l[i * n + i];
  }
  return out;
}

/** Solves A x = b given the Cholesky factor L of A. */
export function choleskySolve(l: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  return solveLowerTransposed(l, n, solveLower(l, n, b));
}
