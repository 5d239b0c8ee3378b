import { assertMatrix, type Matrix } from '../math/matrix.js';

/**
 * Maximum softmax probability (Hendrycks & Gimpel 2017) as an outlier score: -max_j p_j, so a
 * less confident prediction is more outlying. It needs no fit; `probabilities` holds one
 * softmax row per sample.
 */
export function mspOutlierScores(probabilities: Matrix): Float64Array {
  assertMatrix(probabilities, 'mspOutlierScores');
  const { data, rows, cols } = probabilities;
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let best = -Infinity;
    for (let c = i * cols, end = c + cols; c < end; c++) if (data[c] > best) best = data[c];
    out[i] = -best;
  }
  return out;
}
