import type { Matrix } from './matrix.js';

/** Each column's standard deviation (population), in float64. */
export function columnStd(m: Matrix): Float64Array {
  const { rows, cols, data } = m;
  const mean = new Float64Array(cols);
  const sq = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) mean[c] += data[o + c];
  }
  for (let c = 0; c < cols; c++) mean[c] /= Math.max(1, rows);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) {
      const d = data[o + c] - mean[c];
      sq[c] += d * d;
    }
  }
  return sq.map((s) => Math.sqrt(s / Math.max(1, rows)));
}

export interface FeatureDeviation {
  index: number;
  value: number;
  /** The mean of this feature over the nearest reference examples. */
  neighbor_mean: number;
  /** |value - neighbor_mean| in units of the feature's spread over the whole reference set. */
  deviation: number;
  /** Among the `marked` largest deviations. */
  marked: boolean;
}

/**
 * Where a tabular input differs from its nearest training examples, feature by feature: the
 * distance to their mean, scaled by each feature's spread over the reference set so that features
 * on large scales do not win by their units. A feature that never varies in the reference set
 * gets a spread of a millionth of the largest one, so any difference there ranks near the top.
 */
export function featureDeviations(x: ArrayLike<number>, neighbors: readonly ArrayLike<number>[], scale: ArrayLike<number>, marked = 3): FeatureDeviation[] {
  const out: FeatureDeviation[] = [];
  let widest = 0;
  for (let i = 0; i < x.length; i++) widest = Math.max(widest, scale[i]);
  const floor = widest > 0 ? widest * 1e-6 : 1;
  for (let i = 0; i < x.length; i++) {
    let sum = 0;
    for (const n of neighbors) sum += n[i];
    const mean = neighbors.length > 0 ? sum / neighbors.length : x[i];
    const gap = Math.abs(x[i] - mean);
    const deviation = gap / Math.max(scale[i], floor);
    out.push({ index: i, value: x[i], neighbor_mean: mean, deviation, marked: false });
  }
  const order = out.map((_, i) => i).sort((a, b) => out[b].deviation - out[a].deviation || a - b);
  for (const i of order.slice(0, marked)) if (out[i].deviation > 0) out[i].marked = true;
  return out;
}
