/** A dense row-major matrix. Float32 for activations on the hot path, Float64 where precision matters. */
export interface Matrix {
  data: Float32Array | Float64Array;
  rows: number;
  cols: number;
}

export function row(m: Matrix, i: number): Float32Array | Float64Array {
  return m.data.subarray(i * m.cols, (i + 1) * m.cols);
}

/** The rows at `indices`, copied into a new Float32 matrix. */
export function selectRows(m: Matrix, indices: ArrayLike<number>): Matrix {
  const out = new Float32Array(indices.length * m.cols);
  for (let r = 0; r < indices.length; r++) {
    const src = indices[r];
    out.set(m.data.subarray(src * m.cols, (src + 1) * m.cols), r * m.cols);
  }
  return { data: out, rows: indices.length, cols: m.cols };
}

/** Row blocks of equal width stacked into one matrix (a lone block is returned as it is). */
export function concatRows(chunks: Float32Array[], rows: number, cols: number): Matrix {
  if (chunks.length === 1) return { data: chunks[0], rows, cols };
  const data = new Float32Array(rows * cols);
  let offset = 0;
  for (const c of chunks) {
    data.set(c, offset);
    offset += c.length;
  }
  return { data, rows, cols };
}

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

/** Rows start .. start + n as a view on the same buffer (no copy). */
export function rowRange(m: Matrix, start: number, n: number): Matrix {
  return { data: m.data.subarray(start * m.cols, (start + n) * m.cols), rows: n, cols: m.cols };
}
