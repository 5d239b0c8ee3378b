/**
 * Split-conformal helpers (docs/design.md §2): calibration scores, p-values, and the DkNN
 * nonconformity / credibility / confidence read-outs.
 */

/**
 * Nonconformity scores of a held-out calibration set (higher = stranger), sorted once so each
 * p-value is a binary search.
 */
export class CalibrationScores {
  private readonly sorted: Float64Array;

  constructor(scores: ArrayLike<number>) {
    if (scores.length === 0) {
      throw new RangeError('CalibrationScores needs at least one calibration score');
    }
    const sorted = Float64Array.from(scores);
    for (const s of sorted) {
      if (Number.isNaN(s)) throw new RangeError('calibration scores must not be NaN');
    }
    this.sorted = sorted.sort();
  }

  get size(): number {
    return this.sorted.length;
  }

  /**
   * p = (|{a in A : a >= score}| + 1) / (|A| + 1).
   *
   * The +1 counts the test point as one of its own calibration set. Under exchangeability its
   * rank is then uniform, which makes P(p <= alpha) <= alpha hold exactly (with equality when
   * alpha * (n + 1) is an integer and scores are untied), not just asymptotically; it also keeps
   * p > 0, so no input is "impossible". Ties count as at least as strange, which is the
   * conservative side. A NaN score gets the smallest p-value: a broken score must raise a flag,
   * and the binary search alone would rank NaN below everything (p = 1).
   */
  pValue(score: number): number {
    const n = this.sorted.length;
    if (Number.isNaN(score)) return 1 / (n + 1);
    return (n - lowerBound(this.sorted, score) + 1) / (n + 1);
  }

  /** The sorted scores; enough to rebuild the object, so it is all a cache needs to store. */
  toJSON(): number[] {
    return Array.from(this.sorted);
  }

  static fromJSON(json: unknown): CalibrationScores {
    if (!Array.isArray(json) || !json.every((v) => typeof v === 'number' && !Number.isNaN(v))) {
      throw new TypeError('CalibrationScores.fromJSON expects an array of numbers');
    }
    return new CalibrationScores(json as number[]);
  }
}

/** First index whose value is >= target (sorted.length when there is none). */
function lowerBound(sorted: Float64Array, target: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Makes the MAD a consistent estimator of the standard deviation for normal data. */
const MAD_TO_SIGMA = 1.4826;
/** Makes the mean absolute deviation a consistent estimator of sigma for normal data. */
const MEAN_ABS_TO_SIGMA = Math.sqrt(Math.PI / 2);
/** Relative floor on the scale so dividing by it never blows up. */
const SCALE_FLOOR = 1e-12;

/**
 * Median and MAD * 1.4826: a centre and spread that a few extreme scores cannot drag around.
 *
 * When more than half the values coincide the MAD is 0; the mean absolute deviation takes over
 * so the remaining values still have a finite, data-driven spread. A constant input gets
 * scale = 1e-12 * max(1, |center|), so scale is always > 0.
 */
export function robustScale(values: ArrayLike<number>): { center: number; scale: number } {
  if (values.length === 0) throw new RangeError('robustScale needs at least one value');
  const sorted = Float64Array.from(values);
  for (const v of sorted) {
    if (!Number.isFinite(v)) throw new RangeError('robustScale needs finite values');
  }
  sorted.sort();
  const center = median(sorted);
  const deviations = sorted.map((v) => Math.abs(v - center)).sort();
  let scale = median(deviations) * MAD_TO_SIGMA;
  if (scale === 0) {
    let sum = 0;
    for (const d of deviations) sum += d;
    scale = (sum / deviations.length) * MEAN_ABS_TO_SIGMA;
  }
  return { center, scale: Math.max(scale, SCALE_FLOOR * Math.max(1, Math.abs(center))) };
}

function median(sorted: Float64Array): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * DkNN nonconformity of one label: alpha = sum over layers of (k - neighbours with that label).
 * Every layer is assumed to return k neighbours; a count outside [0, k] means the caller mixed
 * up k or the counts, and is rejected rather than silently skewing the score.
 */
export function nonconformity(counts: ArrayLike<number>, k: number): number {
  let alpha = 0;
  for (let l = 0; l < counts.length; l++) {
    const c = counts[l];
    if (!(c >= 0 && c <= k)) throw new RangeError(`neighbour count ${c} is outside [0, ${k}]`);
    alpha += k - c;
  }
  return alpha;
}

export interface CredibilityAndConfidence {
  /** p-value of the predicted label: low means the input is unlike the calibration data. */
  credibility: number;
  /** 1 - the second-largest p-value: how clearly one label beats the rest. */
  confidence: number;
  /** argmax of the p-values (the lowest index wins a tie). */
  knnLabel: number;
}

/**
 * docs/design.md §2, outputs. `predicted` is the model's own argmax, not knnLabel: the service answers what
 * the model answers, and the p-value of that answer is what flags an outlier.
 */
export function credibilityAndConfidence(
  pValues: ArrayLike<number>,
  predicted: number,
): CredibilityAndConfidence {
  if (!Number.isInteger(predicted) || predicted < 0 || predicted >= pValues.length) {
    throw new RangeError(`predicted label ${predicted} is not in [0, ${pValues.length})`);
  }
  let knnLabel = 0;
  for (let j = 1; j < pValues.length; j++) if (pValues[j] > pValues[knnLabel]) knnLabel = j;
  let secondLargest = 0;
  for (let j = 0; j < pValues.length; j++) {
    if (j !== knnLabel && pValues[j] > secondLargest) secondLargest = pValues[j];
  }
  return { credibility: pValues[predicted], confidence: 1 - secondLargest, knnLabel };
}
