import { rowRange, type Matrix } from '../math/matrix.js';
import type { Detector, Prediction } from './types.js';

/** Every row of a matrix through the detector, in batches: for evaluations and tests. */
export async function predictMatrix(detector: Detector, x: Matrix, batchRows = 500): Promise<Prediction[]> {
  const out: Prediction[] = [];
  for (let start = 0; start < x.rows; start += batchRows) {
    const n = Math.min(batchRows, x.rows - start);
    const rows = Float32Array.from(rowRange(x, start, n).data);
    out.push(...(await detector.predict(rows, n)).predictions);
  }
  return out;
}
