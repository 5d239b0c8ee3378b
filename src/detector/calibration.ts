import { z } from 'zod';
import { CalibrationScores, credibilityAndConfidence } from '../math/conformal.js';
import { labelNonconformity } from './signals/evidence.js';
import { assertSignalNames, type Evidence, type Signal } from './signals/signal.js';

const Scores = z.array(z.number()).min(1);
const bySignal = <T extends z.ZodType>(values: T) => z.record(z.string(), values);

/**
 * Everything calibration learns, small enough to cache as JSON, keyed by signal name.
 *
 * The calibration part is cut in two. Half A fixes each signal's parameters (its per-layer
 * scales, say) and gives each signal its own empirical p-value; the combined score is their
 * weighted minimum, `-log min_s(p_s / w_s)` (a weighted Bonferroni statistic). Half B then
 * calibrates that combined score. Because it is a fixed function of the input by then, split
 * conformal makes P(p <= significance) <= significance exact for in-distribution inputs, with
 * none of Bonferroni's slack however the signals are weighted.
 */
export const CalibrationStateSchema = z.object({
  k: z.number().int().positive(),
  classes: z.number().int().positive(),
  /** The signals combined, in the order they are reported. */
  signals: z.array(z.string()).min(1),
  /** Share of the error budget per signal; they sum to 1. */
  weights: bySignal(z.number().positive()),
  /** What each signal learnt on half A; each signal's own schema checks its part. */
  params: bySignal(z.unknown()),
  /** Half A: raw scores per signal, for the p-values inside the combination. */
  fit: bySignal(Scores),
  /** Half B: raw scores per signal, for the reported p-values. */
  held: bySignal(Scores),
  /** Half B: combined scores, for the decision. */
  combined: Scores,
  /** DkNN's A = {alpha(x, y_true)} over the whole calibration part, for per-label p-values. */
  labelScores: Scores,
});
export type CalibrationState = z.infer<typeof CalibrationStateSchema>;

export interface CalibrationInput {
  evidence: Evidence[];
  predicted: Int32Array;
  labels: Int32Array;
}

/** The one signal whose share is configured; the others split the rest evenly. */
export const LABEL_SIGNAL = 'label';

export function signalWeights(names: readonly string[], labelWeight: number): Record<string, number> {
  const others = names.filter((n) => n !== LABEL_SIGNAL).length;
  const labelShare = names.includes(LABEL_SIGNAL) ? (others > 0 ? labelWeight : 1) : 0;
  return Object.fromEntries(names.map((n) => [n, n === LABEL_SIGNAL ? labelShare : (1 - labelShare) / others]));
}

/** Each signal's raw score of one input, in the order of `signals`. */
export function signalScores(signals: readonly Signal[], params: Record<string, unknown>, evidence: Evidence, predicted: number, k: number): number[] {
  return signals.map((s) => s.score(evidence, predicted, params[s.name], k));
}

/** `p[i] / weights[i]` at its smallest, as a score: larger is stranger. */
export function combinedScore(p: readonly number[], weights: readonly number[]): number {
  let least = Infinity;
  for (let i = 0; i < p.length; i++) least = Math.min(least, p[i] / weights[i]);
  return -Math.log(least);
}

/** The scores of half B, which the combined p-values are computed against: they take the values j/(n+1) for this n. */
export function decisionCalibrationSize(calibrationSize: number): number {
  return calibrationSize - Math.floor(calibrationSize / 2);
}

/** Half fit the signals' parameters, half give the p-values: fewer leave both too noisy. */
export const MIN_CALIBRATION_POINTS = 40;

export function calibrate(input: CalibrationInput, k: number, classes: number, labelWeight: number, signals: readonly Signal[]): CalibrationState {
  assertSignalNames(signals);
  const n = input.evidence.length;
  if (n < MIN_CALIBRATION_POINTS) throw new Error(`calibration needs at least ${MIN_CALIBRATION_POINTS} points, got ${n}`);
  const half = Math.floor(n / 2);
  const names = signals.map((s) => s.name);
  const params = Object.fromEntries(signals.map((s) => [s.name, s.calibrate(input.evidence.slice(0, half), input.predicted.subarray(0, half), k)]));
  const weights = signalWeights(names, labelWeight);
  // The service scores the model's own prediction, so calibration scores it too.
  const scores = input.evidence.map((e, i) => signalScores(signals, params, e, input.predicted[i], k));
  const column = (s: number, from: number, to: number) => scores.slice(from, to).map((v) => v[s]);
  const fitScores = names.map((_, s) => new CalibrationScores(column(s, 0, half)));
  const weightList = names.map((name) => weights[name]);
  const combined = scores.slice(half).map((v) => combinedScore(v.map((score, s) => fitScores[s].pValue(score)), weightList));
  return {
    k,
    classes,
    signals: names,
    weights,
    params,
    fit: Object.fromEntries(names.map((name, s) => [name, fitScores[s].toJSON()])),
    held: Object.fromEntries(names.map((name, s) => [name, column(s, half, n)])),
    combined,
    labelScores: input.evidence.map((e, i) => labelNonconformity(e, input.labels[i], k)),
  };
}

/**
 * Why a calibration state cannot be used with these signals on `layers` indexed layers, or
 * undefined when it can: other signals, or a signal's parameters that its schema refuses.
 */
export function calibrationMismatch(state: CalibrationState, signals: readonly Signal[], layers: number): string | undefined {
  const names = signals.map((s) => s.name);
  if (state.signals.join(',') !== names.join(',')) return `calibration.json combines [${state.signals.join(', ')}], expected [${names.join(', ')}]`;
  for (const s of signals) {
    if (![state.weights, state.fit, state.held].every((part) => Object.hasOwn(part, s.name))) return `calibration.json has no scores for the ${s.name} signal`;
    const parsed = s.paramsSchema(layers).safeParse(state.params[s.name]);
    if (!parsed.success) return `calibration.json's ${s.name} parameters do not fit ${layers} layers: ${parsed.error.issues[0]?.message ?? 'invalid'}`;
  }
  return undefined;
}

export interface ConformalReadout {
  pValues: Record<string, number>;
  outlierScore: number;
  credibility: number;
  confidence: number;
  knnLabel: number;
}

/** Turns raw evidence into p-values against a calibration state; built once, used per input. */
export class Calibrator {
  private readonly fit: CalibrationScores[];
  private readonly held: CalibrationScores[];
  private readonly weights: number[];
  private readonly combined: CalibrationScores;
  private readonly labelScores: CalibrationScores;

  constructor(
    readonly state: CalibrationState,
    private readonly signals: readonly Signal[],
    layers: number,
  ) {
    assertSignalNames(signals);
    const mismatch = calibrationMismatch(state, signals, layers);
    if (mismatch) throw new Error(mismatch);
    this.fit = signals.map((s) => new CalibrationScores(state.fit[s.name]));
    this.held = signals.map((s) => new CalibrationScores(state.held[s.name]));
    this.weights = signals.map((s) => state.weights[s.name]);
    this.combined = new CalibrationScores(state.combined);
    this.labelScores = new CalibrationScores(state.labelScores);
  }

  score(evidence: Evidence, predicted: number): ConformalReadout {
    const { k, classes, params } = this.state;
    const raw = signalScores(this.signals, params, evidence, predicted, k);
    const pCombined = this.combined.pValue(combinedScore(raw.map((score, s) => this.fit[s].pValue(score)), this.weights));
    const pValues: Record<string, number> = { combined: pCombined };
    this.signals.forEach((s, i) => (pValues[s.name] = this.held[i].pValue(raw[i])));
    const labelP = Array.from({ length: classes }, (_, j) => this.labelScores.pValue(labelNonconformity(evidence, j, k)));
    const { credibility, confidence, knnLabel } = credibilityAndConfidence(labelP, predicted);
    return { pValues, outlierScore: 1 - pCombined, credibility, confidence, knnLabel };
  }
}
