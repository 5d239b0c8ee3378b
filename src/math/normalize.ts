import type { Matrix } from './matrix.js';

/** Euclidean norm of each row, accumulated in float64 so long Float32 rows do not lose digits. */
export function rowNorms(m: Matrix): Float64Array {
  const out = new Float64Array(m.rows);
  for (let i = 0; i < m.rows; i++) {
    let sum = 0;
    for (let c = i * m.cols, end = c + m.cols; c < end; c++) sum += m.data[c] * m.data[c];
    out[i] = Math.sqrt(sum);
  }
  return out;
}

/**
 * Each row scaled to unit length, as Float32 (the index and search path work in float32).
 * A zero row has no direction, so it stays zero rather than becoming NaN.
 */
export function l2NormalizeRows(m: Matrix): Matrix {
  const norms = rowNorms(m);
  const out = new Float32Array(m.rows * m.cols);
  for (let i = 0; i < m.rows; i++) {
    if (norms[i] === 0) continue;
    const inv = 1 / norms[i];
    for (let c = i * m.cols, end = c + m.cols; c < end; c++) out[c] = m.data[c] * inv;
  }
  return { data: out, rows: m.rows, cols: m.cols };
}
