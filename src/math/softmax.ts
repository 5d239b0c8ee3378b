import type { Matrix } from './matrix.js';

/** Row-wise softmax in place, shifted by each row's maximum so large logits cannot overflow. */
export function softmaxRowsInPlace(m: Matrix): Matrix {
  const { data, rows, cols } = m;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (data[o + j] > max) max = data[o + j];
    let sum = 0;
    for (let j = 0; j < cols; j++) {
      const e = Math.exp(data[o + j] - max);
      data[o + j] = e;
      sum += e;
    }
    for (let j = 0; j < cols; j++) data[o + j] /= sum;
  }
  return m;
}
