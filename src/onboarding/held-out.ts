import type { Detector } from '../detector/types.js';
import type { LabeledData } from '../reference/sources/labeled-data.js';
import { rowRange } from '../math/matrix.js';

export interface HeldOutCheck {
  rows: number;
  /** Share of held-out (in-distribution) rows flagged: conformal calibration promises about the significance. */
  flagRate: number;
  accuracy: number;
}

const BATCH = 256;

/** The served detector on held-out data of the training distribution. */
export async function heldOutCheck(detector: Detector, test: LabeledData): Promise<HeldOutCheck> {
  const { x, labels } = test;
  let flagged = 0;
  let correct = 0;
  for (let start = 0; start < x.rows; start += BATCH) {
    const n = Math.min(BATCH, x.rows - start);
    const { predictions } = await detector.predict(Float32Array.from(rowRange(x, start, n).data), n);
    predictions.forEach((p, i) => {
      if (p.is_outlier) flagged++;
      if (p.class_index === labels[start + i]) correct++;
    });
  }
  return { rows: x.rows, flagRate: flagged / x.rows, accuracy: correct / x.rows };
}
