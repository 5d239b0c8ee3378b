import { DriftStatistic, PART_DIVISORS } from '../drift/drift-statistic.js';
import { driftBets } from '../math/drift-bets.js';
import { createRng, type Rng } from '../math/random.js';
import { ChangePointMartingale } from '../math/test-martingale.js';
import { OutlierShareRule } from './outlier-share-rule.js';

/**
 * Simulated streams of combined p-values for the drift evaluation (docs/drift.md): each
 * prediction's p-value is drawn from p-values the model really gave, on held-out
 * in-distribution rows before the shift and on the shifted inputs after it. Pure: the script
 * that scores the pools does the I/O.
 */
export interface PValuePools {
  /** Held-out in-distribution rows. */
  clean: Float64Array;
  /** Their true labels, for the class-prior shift. */
  cleanLabels: Int32Array;
  /** The partner data set's rows (an OOD set). */
  ood: Float64Array;
  /** Held-out rows rotated: pool d is rotated by (d + 1) degrees. */
  rotated: Float64Array[];
}

export type Shift =
  | { kind: 'none' }
  | { kind: 'ood'; share: number }
  /** Every input rotated, one degree more every `perDegree` predictions. */
  | { kind: 'rotation'; perDegree: number }
  /** Class `label` becomes half the traffic; the rest keep their proportions. */
  | { kind: 'prior'; label: number };

const pick = (pool: ArrayLike<number>, rng: Rng) => pool[Math.floor(rng() * pool.length)];

/** The p-value source of a stream: clean before `shiftAt`, shifted from there on. */
export function streamSource(pools: PValuePools, shift: Shift, shiftAt: number): (t: number, rng: Rng) => number {
  const clean = (rng: Rng) => pick(pools.clean, rng);
  switch (shift.kind) {
    case 'none':
      return (_, rng) => clean(rng);
    case 'ood':
      return (t, rng) => (t >= shiftAt && rng() < shift.share ? pick(pools.ood, rng) : clean(rng));
    case 'rotation':
      return (t, rng) => {
        if (t < shiftAt) return clean(rng);
        const degree = Math.min(pools.rotated.length - 1, Math.floor((t - shiftAt) / shift.perDegree));
        return pick(pools.rotated[degree], rng);
      };
    case 'prior': {
      const inClass = pools.clean.filter((_, i) => pools.cleanLabels[i] === shift.label);
      const others = pools.clean.filter((_, i) => pools.cleanLabels[i] !== shift.label);
      if (inClass.length === 0 || others.length === 0) throw new RangeError(`class ${shift.label} is absent from, or all of, the clean pool`);
      return (t, rng) => (t < shiftAt ? clean(rng) : pick(rng() < 0.5 ? inClass : others, rng));
    }
  }
}

/**
 * Clean p-values as a model computes them against one calibration set drawn afresh for this
 * stream: n calibration scores and every test score i.i.d. uniform, p = (#{calibration >= score} + 1) / (n + 1).
 * Given the set, the rate of p <= j/(n+1) is one draw of Beta(j, n+1-j): some streams get an
 * unlucky set, as a deployed model may.
 */
export function drawnCalibrationSource(n: number, seed: number): (t: number, rng: Rng) => number {
  const calibration = Float64Array.from({ length: n }, createRng(seed)).sort();
  return (_, rng) => {
    const score = rng();
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (calibration[mid] < score) lo = mid + 1;
      else hi = mid;
    }
    return (n - lo + 1) / (n + 1);
  };
}

export interface StreamOptions {
  calibrationSize: number;
  significance: number;
  delta: number;
  /** Predictions per minute, for the outlier-share rule. */
  perMinute: number;
  length: number;
  shiftAt: number;
  seed: number;
  /** Also run the calibration part without its tolerance (bets against exact uniformity). */
  withoutTolerance?: boolean;
}

/** Where each detector first alarmed in one stream (a prediction count), undefined when it did not. */
export interface StreamAlarms {
  drift?: number;
  /** Which part of the drift statistic crossed first. */
  driftPart?: 'calibration' | 'stream';
  rule?: number;
  withoutTolerance?: number;
  /** The drift statistic's largest log10 over the stream. */
  peak: number;
}

/** Runs one stream through the drift statistic and the outlier-share rule, until both alarm or it ends. */
export function runStream(source: (t: number, rng: Rng) => number, options: StreamOptions): StreamAlarms {
  const rng = createRng(options.seed);
  const statistic = new DriftStatistic({ calibrationSize: options.calibrationSize, delta: options.delta, rng: createRng(options.seed ^ 0x5bd1e995) });
  const rule = new OutlierShareRule({ significance: options.significance, calibrationSize: options.calibrationSize, perMinute: options.perMinute });
  const exact = options.withoutTolerance
    ? new ChangePointMartingale(driftBets({ calibrationSize: options.calibrationSize, risk: options.delta, exact: true }))
    : undefined;
  const threshold = Math.log10(1 / options.delta);
  const alarms: StreamAlarms = { peak: -Infinity };
  for (let t = 0; t < options.length; t++) {
    const p = source(t, rng);
    statistic.update(p);
    rule.update(p);
    if (alarms.drift === undefined) {
      const now = statistic.log10();
      if (now > alarms.peak) alarms.peak = now;
      if (now >= threshold) {
        alarms.drift = t + 1;
        const parts = statistic.parts();
        alarms.driftPart = parts.calibration >= parts.stream ? 'calibration' : 'stream';
      }
    }
    if (exact) {
      exact.update(p);
      if (alarms.withoutTolerance === undefined && exact.log10() - Math.log10(PART_DIVISORS.calibration) >= threshold) alarms.withoutTolerance = t + 1;
    }
    if (alarms.drift !== undefined && rule.firedAt !== undefined && (!exact || alarms.withoutTolerance !== undefined)) break;
  }
  alarms.rule = rule.firedAt;
  return alarms;
}

export interface ShiftSummary {
  streams: number;
  /** Streams in which the detector alarmed before the shift began. */
  falseAlarms: number;
  /** Streams in which it had not alarmed by the end. */
  missed: number;
  /** Predictions from the shift's start to the alarm, over the streams that alarmed after it: median and 90th percentile (Infinity when more than 10% missed). */
  median: number;
  p90: number;
}

/** Sorted-order statistics of the detection delays, counting a missed stream as an infinite delay. */
export function summarize(alarms: readonly (number | undefined)[], shiftAt: number): ShiftSummary {
  const falseAlarms = alarms.filter((a) => a !== undefined && a <= shiftAt).length;
  const delays = alarms
    .filter((a) => a === undefined || a > shiftAt)
    .map((a) => (a === undefined ? Infinity : a - shiftAt))
    .sort((x, y) => x - y);
  const quantile = (q: number) => (delays.length === 0 ? NaN : delays[Math.min(delays.length - 1, Math.ceil(q * delays.length) - 1)]);
  return { streams: alarms.length, falseAlarms, missed: delays.filter((d) => d === Infinity).length, median: quantile(0.5), p90: quantile(0.9) };
}
