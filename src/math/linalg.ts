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
  return runToEnd(choleskySteps(a, n, Infinity));
}

/**
 * The same factorisation, yielding after about `opsPerStep` multiply-adds, so a caller can pause
 * for the event loop: at 784 dimensions the whole takes about half a second.
 */
export function* choleskySteps(a: Float64Array, n: number, opsPerStep: number): Generator<void, Float64Array> {
  assertSquare(a, n, 'cholesky');
  const l = new Float64Array(n * n);
  let ops = 0;
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
    ops += (n - j) * j;
    if (ops >= opsPerStep && j < n - 1) {
      ops = 0;
      yield;
    }
  }
  return l;
}

/** Runs a stepped computation to its end without pausing. */
function runToEnd<T>(steps: Generator<void, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
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

/**
 * L^{-1} of a lower-triangular L (also lower triangular), column by column by forward
 * substitution: O(n^3 / 6), done once so that every later solve is a product.
 */
export function invertLower(l: Float64Array, n: number): Float64Array {
  return runToEnd(invertLowerSteps(l, n, Infinity));
}

/**
 * The same inverse, yielding after about `opsPerStep` multiply-adds, so a caller can pause for
 * the event loop: at 1,568 dimensions the whole takes over a second.
 */
export function* invertLowerSteps(l: Float64Array, n: number, opsPerStep: number): Generator<void, Float64Array> {
  assertSquare(l, n, 'invertLower');
  const inv = new Float64Array(n * n);
  let ops = 0;
  for (let j = 0; j < n; j++) {
    inv[j * n + j] = 1 / l[j * n + j];
    for (let i = j + 1; i < n; i++) {
      const rowI = i * n;
      let sum = 0;
      for (let p = j; p < i; p++) sum -= l[rowI + p] * inv[p * n + j];
      inv[rowI + j] = sum / l[rowI + i];
    }
    ops += ((n - j) * (n - j)) / 2;
    if (ops >= opsPerStep && j < n - 1) {
      ops = 0;
      yield;
    }
  }
  return inv;
}

/**
 * out[r][i] = sum_{j <= i} w[i][j] x[r][j] for every row r of x (rows x n, row-major), w lower
 * triangular n x n: a batch of triangular solves as one product. Two rows of w by two rows of x
 * at a time, four sums from four contiguous loads, so the batch is computed at the speed of a
 * matrix product rather than of a dependent substitution per row.
 */
export function lowerTimesRows(
  w: Float64Array,
  n: number,
  x: ArrayLike<number>,
  rows: number,
  out: Float64Array = new Float64Array(rows * n),
): Float64Array {
  assertSquare(w, n, 'lowerTimesRows');
  if (x.length !== rows * n) throw new RangeError(`lowerTimesRows: expected ${rows} x ${n} values, got ${x.length}`);
  // Float64 copies of the rows, so the inner loop reads one array type whatever x is.
  const xs = Float64Array.from(x);
  const sums = new Float64Array(4);
  for (let r = 0; r < rows; r += 2) {
    const r1 = Math.min(r + 1, rows - 1);
    const xr = r * n;
    const xr1 = r1 * n;
    for (let i = 0; i < n; i += 2) {
      const i1 = Math.min(i + 1, n - 1);
      const wi = i * n;
      const wi1 = i1 * n;
      // w[i][i1] is 0 above the diagonal, so both rows of w run to i1 together.
      dot2x2(w, wi, wi1, xs, xr, xr1, i1 + 1, sums);
      out[xr + i] = sums[0];
      out[xr1 + i] = sums[1];
      if (i1 !== i) {
        out[xr + i1] = sums[2];
        out[xr1 + i1] = sums[3];
      }
    }
  }
  return out;
}

/**
 * The 2 x 2 register block both matrix products here are built from: the dot products of rows
 * a0 and a1 of `a` with rows b0 and b1 of `b` (each `length` values from the given offsets),
 * four sums from four contiguous loads, written to `out` as [a0.b0, a0.b1, a1.b0, a1.b1].
 */
export function dot2x2(
  a: Float64Array,
  a0: number,
  a1: number,
  b: Float64Array,
  b0: number,
  b1: number,
  length: number,
  out: Float64Array,
): void {
  let s00 = 0;
  let s01 = 0;
  let s10 = 0;
  let s11 = 0;
  for (let j = 0; j < length; j++) {
    const x0 = a[a0 + j];
    const x1 = a[a1 + j];
    const y0 = b[b0 + j];
    const y1 = b[b1 + j];
    s00 += x0 * y0;
    s01 += x0 * y1;
    s10 += x1 * y0;
    s11 += x1 * y1;
  }
  out[0] = s00;
  out[1] = s01;
  out[2] = s10;
  out[3] = s11;
}
