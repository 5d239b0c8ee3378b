import { z } from 'zod';
import { CalibrationScores, credibilityAndConfidence, robustScale } from '../math/conformal.js';
import { labelNonconformity, logNearestDistances, type Evidence } from './signals.js';

/** The two signals the outlier decision combines; both are reported with their own p-values. */
export const SIGNALS = ['label', 'distance'] as const;

/**
 * Everything calibration learns, small enough to cache as JSON.
 *
 * The calibration part is cut in two. Half A fixes the per-layer distance scales and gives each
 * signal its own empirical p-value; the combined score is the weighted minimum of those
 * (`-log min(p_label / w, p_distance / (1 - w))`, a weighted Bonferroni statistic). Half B then
 * calibrates that combined score. Because it is a fixed function of the input by then, split
 * conformal makes P(p <= significance) <= significance exact for in-distribution inputs, with
 * none of Bonferroni's slack however the signals are weighted.
 */
export const CalibrationStateSchema = z.object({
  k: z.number().int().positive(),
  classes: z.number().int().positive(),
  /** Share of the error budget given to label disagreement; the rest goes to distance. */
  labelWeight: z.number().gt(0).lt(1),
  layerScales: z.array(z.object({ center: z.number(), scale: z.number().positive() })),
  /** Half A: raw label and distance scores, for the per-signal p-values inside the combination. */
  fitLabel: z.array(z.number()).min(1),
  fitDistance: z.array(z.number()).min(1),
  /** Half B: raw per-signal scores (reported p-values) and combined scores (the decision). */
  heldLabel: z.array(z.number()).min(1),
  heldDistance: z.array(z.number()).min(1),
  heldCombined: z.array(z.number()).min(1),
  /** DkNN's A = {alpha(x, y_true)} over the whole calibration part, for per-label p-values. */
  labelScores: z.array(z.number()).min(1),
});
export type CalibrationState = z.infer<typeof CalibrationStateSchema>;

export interface CalibrationInput {
  evidence: Evidence[];
  predicted: Int32Array;
  labels: Int32Array;
}

type Scale = { center: number; scale: number };

/** Sum over layers of the robust z-score of the log nearest distance. */
export function distanceScore(evidence: Evidence, scales: Scale[]): number {
  const logs = logNearestDistances(evidence);
  let sum = 0;
  for (let l = 0; l < logs.length; l++) sum += (logs[l] - scales[l].center) / scales[l].scale;
  return sum;
}

export function combinedScore(pLabel: number, pDistance: number, labelWeight: number): number {
  return -Math.log(Math.min(pLabel / labelWeight, pDistance / (1 - labelWeight)));
}

export function calibrate(input: CalibrationInput, k: number, classes: number, labelWeight: number): CalibrationState {
  const n = input.evidence.length;
  if (n < 40) throw new Error(`calibration needs at least 40 points, got ${n}`);
  const half = Math.floor(n / 2);
  const fitPart = input.evidence.slice(0, half);
  const layers = input.evidence[0].nearestDistances.length;
  const layerScales = Array.from({ length: layers }, (_, l) => robustScale(fitPart.map((e) => logNearestDistances(e)[l])));
  // The service scores the model's own prediction, so calibration scores it too.
  const label = input.evidence.map((e, i) => labelNonconformity(e, input.predicted[i], k));
  const distance = input.evidence.map((e) => distanceScore(e, layerScales));
  const fitLabel = new CalibrationScores(label.slice(0, half));
  const fitDistance = new CalibrationScores(distance.slice(0, half));
  const heldLabel = label.slice(half);
  const heldDistance = distance.slice(half);
  return {
    k,
    classes,
    labelWeight,
    layerScales,
    fitLabel: fitLabel.toJSON(),
    fitDistance: fitDistance.toJSON(),
    heldLabel,
    heldDistance,
    heldCombined: heldLabel.map((a, i) =>
      combinedScore(fitLabel.pValue(a), fitDistance.pValue(heldDistance[i]), labelWeight),
    ),
    labelScores: input.evidence.map((e, i) => labelNonconformity(e, input.labels[i], k)),
  };
}

export interface Scored {
  pValues: Record<string, number>;
  outlierScore: number;
  credibility: number;
  confidence: number;
  knnLabel: number;
}

/** Turns raw evidence into p-values against a calibration state; built once, used per input. */
export class Calibrator {
  private readonly fitLabel: CalibrationScores;
  private readonly fitDistance: CalibrationScores;
  private readonly heldLabel: CalibrationScores;
  private readonly heldDistance: CalibrationScores;
  private readonly heldCombined: CalibrationScores;
  private readonly labelScores: CalibrationScores;

  constructor(readonly state: CalibrationState) {
    this.fitLabel = new CalibrationScores(state.fitLabel);
    this.fitDistance = new CalibrationScores(state.fitDistance);
    this.heldLabel = new CalibrationScores(state.heldLabel);
    this.heldDistance = new CalibrationScores(state.heldDistance);
    this.heldCombined = new CalibrationScores(state.heldCombined);
    this.labelScores = new CalibrationScores(state.labelScores);
  }

  score(evidence: Evidence, predicted: number): Scored {
    const { k, labelWeight, classes } = this.state;
    const label = labelNonconformity(evidence, predicted, k);
    const distance = distanceScore(evidence, this.state.layerScales);
    const combined = combinedScore(this.fitLabel.pValue(label), this.fitDistance.pValue(distance), labelWeight);
    const pCombined = this.heldCombined.pValue(combined);
    const labelP = Array.from({ length: classes }, (_, j) => this.labelScores.pValue(labelNonconformity(evidence, j, k)));
    const { credibility, confidence, knnLabel } = credibilityAndConfidence(labelP, predicted);
    return {
      pValues: { combined: pCombined, label: this.heldLabel.pValue(label), distance: this.heldDistance.pValue(distance) },
      outlierScore: 1 - pCombined,
      credibility,
      confidence,
      knnLabel,
    };
  }
}
