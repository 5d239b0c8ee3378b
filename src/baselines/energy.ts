import { assertMatrix, type Matrix } from '../math/matrix.js';

export interface EnergyOptions {
  /** Softmax temperature T; Liu et al. 2020 score with T = 1. */
  temperature?: number;
}

/**
 * The free energy E(x) = -T * logsumexp(logits / T) (Liu et al. 2020) as an outlier score:
 * in-distribution inputs get large logits and so low energy. It needs no fit; `logits` holds
 * one row of pre-softmax outputs per sample.
 */
export function energyOutlierScores(logits: Matrix, options: EnergyOptions = {}): Float64Array {
  assertMatrix(logits, 'energyOutlierScores');
  const temperature = options.temperature ?? 1;
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new RangeError(`energyOutlierScores: temperature must be positive and finite, got ${temperature}`);
  }
  const { data, rows, cols } = logits;
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const start = i * cols;
    const end = start + cols;
    let max = -Infinity;
    for (let c = start; c < end; c++) if (data[c] > max) max = data[c];
    // Shifting by the largest logit keeps every exponent <= 0: logits of 1000 would
    // overflow exp() otherwise. An all -Infinity row stays -Infinity rather than NaN.
    if (!Number.isFinite(max)) {
      out[i] = -max;
      continue;
    }
    let sum = 0;
    for (let c = start; c < end; c++) sum += Math.exp((data[c] - max) / temperature);
    out[i] = -(max + temperature * Math.log(sum));
  }
  return out;
}
