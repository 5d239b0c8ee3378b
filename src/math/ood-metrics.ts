/**
 * Out-of-distribution evaluation metrics (docs/design.md §3). Positives are the in-distribution samples
 * and a higher score means "more in-distribution"; a sample is accepted when score >= threshold.
 */

export interface OodMetrics {
  auroc: number;
  /** FPR at 95% TPR, the classic ODIN / Sun et al. 2022 definition (not OpenOOD v1.5's). */
  fprAt95Tpr: number;
  auprIn: number;
  auprOut: number;
  detectionError: number;
}

/**
 * Cumulative true / false positives at each distinct threshold, highest first. Tied scores are
 * one threshold: a cutoff cannot split them, which is what makes ties count half in AUROC.
 */
interface Sweep {
  truePositives: Int32Array;
  falsePositives: Int32Array;
  positives: number;
  negatives: number;
}

function sweep(
  positiveScores: ArrayLike<number>,
  negativeScores: ArrayLike<number>,
  names = ['in-distribution', 'out-of-distribution'],
): Sweep {
  const pos = sortedDescending(positiveScores, names[0]);
  const neg = sortedDescending(negativeScores, names[1]);
  const tp: number[] = [];
  const fp: number[] = [];
  let i = 0;
  let j = 0;
  while (i < pos.length || j < neg.length) {
    const threshold = Math.max(i < pos.length ? pos[i] : -Infinity, j < neg.length ? neg[j] : -Infinity);
    while (i < pos.length && pos[i] === threshold) i++;
    while (j < neg.length && neg[j] === threshold) j++;
    tp.push(i);
    fp.push(j);
  }
  return {
    truePositives: Int32Array.from(tp),
    falsePositives: Int32Array.from(fp),
    positives: pos.length,
    negatives: neg.length,
  };
}

function sortedDescending(scores: ArrayLike<number>, what: string): Float64Array {
  if (scores.length === 0) throw new RangeError(`no ${what} scores`);
  const sorted = Float64Array.from(scores);
  for (const s of sorted) if (Number.isNaN(s)) throw new RangeError(`${what} scores contain NaN`);
  return sorted.sort().reverse();
}

/**
 * Area under the ROC curve: the probability that a random in-distribution sample outscores a
 * random OOD one, ties counting half. Trapezoids over the tie-grouped sweep give exactly the
 * Mann-Whitney statistic with mid-ranks, in O(n log n).
 */
export function auroc(inScores: ArrayLike<number>, outScores: ArrayLike<number>): number {
  return aurocOf(sweep(inScores, outScores));
}

function aurocOf(s: Sweep): number {
  let area = 0;
  let prevTp = 0;
  let prevFp = 0;
  for (let t = 0; t < s.truePositives.length; t++) {
    area += (s.falsePositives[t] - prevFp) * (s.truePositives[t] + prevTp);
    prevTp = s.truePositives[t];
    prevFp = s.falsePositives[t];
  }
  return area / (2 * s.positives * s.negatives);
}

/**
 * Fraction of OOD samples accepted at the threshold that keeps `tpr` of the in-distribution
 * samples (the classic FPR@95TPR of ODIN and Sun et al. 2022, not OpenOOD v1.5's).
 *
 * The threshold is the ceil(tpr * n_in)-th largest in-distribution score, i.e. the highest
 * threshold whose TPR is at least `tpr`; OOD samples tied with it are accepted (score >= t).
 */
export function fprAtTpr(inScores: ArrayLike<number>, outScores: ArrayLike<number>, tpr = 0.95): number {
  return fprAtTprOf(sweep(inScores, outScores), tpr);
}

function fprAtTprOf(s: Sweep, tpr: number): number {
  if (!(tpr > 0 && tpr <= 1)) throw new RangeError(`tpr must be in (0, 1], got ${tpr}`);
  // The epsilon keeps 0.95 * 20 = 19.000000000000004 from demanding a 20th sample.
  const needed = Math.ceil(tpr * s.positives - 1e-9);
  let t = 0;
  while (s.truePositives[t] < needed) t++;
  return s.falsePositives[t] / s.negatives;
}

/**
 * Average precision, sum over thresholds of (recall step) * precision, with no interpolation
 * (scikit-learn's average_precision_score).
 */
function averagePrecisionOf(s: Sweep): number {
  let ap = 0;
  let prevTp = 0;
  for (let t = 0; t < s.truePositives.length; t++) {
    const tp = s.truePositives[t];
    if (tp === prevTp) continue;
    ap += ((tp - prevTp) / s.positives) * (tp / (tp + s.falsePositives[t]));
    prevTp = tp;
  }
  return ap;
}

/** AUPR with the in-distribution samples as positives. */
export function auprIn(inScores: ArrayLike<number>, outScores: ArrayLike<number>): number {
  return averagePrecisionOf(sweep(inScores, outScores));
}

/** AUPR with the OOD samples as positives, ranked by negated score. */
export function auprOut(inScores: ArrayLike<number>, outScores: ArrayLike<number>): number {
  return averagePrecisionOf(outSweep(inScores, outScores));
}

function outSweep(inScores: ArrayLike<number>, outScores: ArrayLike<number>): Sweep {
  const negated = (scores: ArrayLike<number>): Float64Array => Float64Array.from(scores, (v) => -v);
  return sweep(negated(outScores), negated(inScores), ['out-of-distribution', 'in-distribution']);
}

/**
 * min over thresholds of 0.5 * (1 - TPR) + 0.5 * FPR, including the threshold above every
 * score (accept nothing), so the result is never above 0.5.
 */
export function detectionError(inScores: ArrayLike<number>, outScores: ArrayLike<number>): number {
  return detectionErrorOf(sweep(inScores, outScores));
}

function detectionErrorOf(s: Sweep): number {
  let best = 0.5;
  for (let t = 0; t < s.truePositives.length; t++) {
    const error = 0.5 * (1 - s.truePositives[t] / s.positives) + 0.5 * (s.falsePositives[t] / s.negatives);
    if (error < best) best = error;
  }
  return best;
}

/** All five metrics; the scores are sorted twice (once per AUPR direction), not five times. */
export function evaluateScores(inScores: ArrayLike<number>, outScores: ArrayLike<number>): OodMetrics {
  const s = sweep(inScores, outScores);
  return {
    auroc: aurocOf(s),
    fprAt95Tpr: fprAtTprOf(s, 0.95),
    auprIn: averagePrecisionOf(s),
    auprOut: averagePrecisionOf(outSweep(inScores, outScores)),
    detectionError: detectionErrorOf(s),
  };
}

/**
 * ROC points (false positive rate = OOD accepted, true positive rate = in-distribution
 * accepted) from the strictest threshold to the loosest, thinned to at most `maxPoints` so a
 * plot stays small; the first and last points are always kept.
 */
export function rocCurve(inScores: ArrayLike<number>, outScores: ArrayLike<number>, maxPoints = 200): [number, number][] {
  const s = sweep(inScores, outScores);
  const points: [number, number][] = [[0, 0]];
  for (let t = 0; t < s.truePositives.length; t++) {
    points.push([s.falsePositives[t] / s.negatives, s.truePositives[t] / s.positives]);
  }
  if (points.length <= maxPoints) return points;
  const step = (points.length - 1) / (maxPoints - 1);
  return Array.from({ length: maxPoints }, (_, i) => points[Math.round(i * step)]);
}
