import { z } from 'zod';
import { CalibrationScores, credibilityAndConfidence, robustScale } from '../math/conformal.js';
import { labelNonconformity, logDensities, logNearestDistances, type Evidence } from './signals.js';

/**
 * The signals the outlier decision combines, each reported with its own p-value:
 * - label: DkNN's disagreement of the neighbours with the predicted class;
 * - distance: how far the nearest reference points are, summed over layers;
 * - density: the Mahalanobis distance to the nearest class mean, summed over layers.
 */
export const SIGNALS = ['label', 'distance', 'density'] as const;
export type SignalName = (typeof SIGNALS)[number];
type PerSignal<T> = Record<SignalName, T>;

const Scale = z.object({ center: z.number(), scale: z.number().positive() });
type Scale = z.infer<typeof Scale>;
const Scores = z.array(z.number()).min(1);

/**
 * Everything calibration learns, small enough to cache as JSON.
 *
 * The calibration part is cut in two. Half A fixes the per-layer scales and gives each signal
 * its own empirical p-value; the combined score is their weighted minimum,
 * `-log min_s(p_s / w_s)` (a weighted Bonferroni statistic). Half B then calibrates that
 * combined score. Because it is a fixed function of the input by then, split conformal makes
 * P(p <= significance) <= significance exact for in-distribution inputs, with none of
 * Bonferroni's slack however the signals are weighted.
 */
export const CalibrationStateSchema = z.object({
  k: z.number().int().positive(),
  classes: z.number().int().positive(),
  /** Share of the error budget per signal; they sum to 1. */
  weights: z.object({ label: z.number().positive(), distance: z.number().positive(), density: z.number().positive() }),
  distanceScales: z.array(Scale),
  densityScales: z.array(Scale),
  /** Half A: raw scores per signal, for the p-values inside the combination. */
  fit: z.object({ label: Scores, distance: Scores, density: Scores }),
  /** Half B: raw scores per signal (reported p-values) and combined scores (the decision). */
  held: z.object({ label: Scores, distance: Scores, density: Scores, combined: Scores }),
  /** DkNN's A = {alpha(x, y_true)} over the whole calibration part, for per-label p-values. */
  labelScores: Scores,
});
export type CalibrationState = z.infer<typeof CalibrationStateSchema>;

export interface CalibrationInput {
  evidence: Evidence[];
  predicted: Int32Array;
  labels: Int32Array;
}

/** The label share is configured; distance and density split the rest evenly. */
export function signalWeights(labelWeight: number): PerSignal<number> {
  return { label: labelWeight, distance: (1 - labelWeight) / 2, density: (1 - labelWeight) / 2 };
}

function sumOfZ(values: number[], scales: Scale[]): number {
  let sum = 0;
  for (let l = 0; l < values.length; l++) sum += (values[l] - scales[l].center) / scales[l].scale;
  return sum;
}

export function signalScores(
  evidence: Evidence,
  label: number,
  k: number,
  distanceScales: Scale[],
  densityScales: Scale[],
): PerSignal<number> {
  return {
    label: labelNonconformity(evidence, label, k),
    distance: sumOfZ(logNearestDistances(evidence), distanceScales),
    density: sumOfZ(logDensities(evidence), densityScales),
  };
}

export function combinedScore(p: PerSignal<number>, weights: PerSignal<number>): number {
  return -Math.log(Math.min(...SIGNALS.map((s) => p[s] / weights[s])));
}

function layerScales(evidence: Evidence[], values: (e: Evidence) => number[]): Scale[] {
  const perRow = evidence.map(values);
  return perRow[0].map((_, l) => robustScale(perRow.map((v) => v[l])));
}

/** Half fit the signals' scales, half give the p-values: fewer leave both too noisy. */
export const MIN_CALIBRATION_POINTS = 40;

export function calibrate(input: CalibrationInput, k: number, classes: number, labelWeight: number): CalibrationState {
  const n = input.evidence.length;
  if (n < MIN_CALIBRATION_POINTS) throw new Error(`calibration needs at least ${MIN_CALIBRATION_POINTS} points, got ${n}`);
  const half = Math.floor(n / 2);
  const fitPart = input.evidence.slice(0, half);
  const distanceScales = layerScales(fitPart, logNearestDistances);
  const densityScales = layerScales(fitPart, logDensities);
  const weights = signalWeights(labelWeight);
  // The service scores the model's own prediction, so calibration scores it too.
  const scores = input.evidence.map((e, i) => signalScores(e, input.predicted[i], k, distanceScales, densityScales));
  const column = (s: SignalName, from: number, to: number) => scores.slice(from, to).map((v) => v[s]);
  const fitScores = Object.fromEntries(SIGNALS.map((s) => [s, new CalibrationScores(column(s, 0, half))])) as PerSignal<CalibrationScores>;
  const heldCombined = scores.slice(half).map((v) =>
    combinedScore(Object.fromEntries(SIGNALS.map((s) => [s, fitScores[s].pValue(v[s])])) as PerSignal<number>, weights),
  );
  return {
    k,
    classes,
    weights,
    distanceScales,
    densityScales,
    fit: { label: fitScores.label.toJSON(), distance: fitScores.distance.toJSON(), density: fitScores.density.toJSON() },
    held: { label: column('label', half, n), distance: column('distance', half, n), density: column('density', half, n), combined: heldCombined },
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
  private readonly fit: PerSignal<CalibrationScores>;
  private readonly held: PerSignal<CalibrationScores>;
  private readonly combined: CalibrationScores;
  private readonly labelScores: CalibrationScores;

  constructor(readonly state: CalibrationState) {
    const build = (part: PerSignal<number[]>) =>
      Object.fromEntries(SIGNALS.map((s) => [s, new CalibrationScores(part[s])])) as PerSignal<CalibrationScores>;
    this.fit = build(state.fit);
    this.held = build(state.held);
    this.combined = new CalibrationScores(state.held.combined);
    this.labelScores = new CalibrationScores(state.labelScores);
  }

  score(evidence: Evidence, predicted: number): Scored {
    const { k, classes, weights, distanceScales, densityScales } = this.state;
    const raw = signalScores(evidence, predicted, k, distanceScales, densityScales);
    const pFit = Object.fromEntries(SIGNALS.map((s) => [s, this.fit[s].pValue(raw[s])])) as PerSignal<number>;
    const pCombined = this.combined.pValue(combinedScore(pFit, weights));
    const pValues: Record<string, number> = { combined: pCombined };
    for (const s of SIGNALS) pValues[s] = this.held[s].pValue(raw[s]);
    const labelP = Array.from({ length: classes }, (_, j) => this.labelScores.pValue(labelNonconformity(evidence, j, k)));
    const { credibility, confidence, knnLabel } = credibilityAndConfidence(labelP, predicted);
    return { pValues, outlierScore: 1 - pCombined, credibility, confidence, knnLabel };
  }
}
