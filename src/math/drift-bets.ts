import { betaQuantile } from './beta.js';
import type { StepBet } from './test-martingale.js';

/**
 * The bets the drift martingale places, and their tolerance (docs/design.md §4).
 *
 * Split conformal p-values come from one fixed calibration set of n scores, so they take the
 * values j/(n+1), and, given that set, P(p <= j/(n+1)) for a fresh in-distribution input is not
 * j/(n+1) but a draw from Beta(j, n+1-j) over calibration sets. A martingale that bets against
 * exact uniformity would grow on clean traffic whenever its calibration set happened to land on
 * the high side. So each bet's reference rate is that Beta law's upper (1 - risk/bets) quantile:
 * with probability at least 1 - risk over the calibration draw, every true rate is below its
 * reference, and every bet is then a supermartingale factor on clean traffic.
 */

/** Where the bets look: the extreme tail that OOD inputs land in, and wider tails for slow shifts. */
export const DRIFT_THRESHOLDS = [0.005, 0.02, 0.1, 0.3] as const;
/** Stakes from cautious to bold: the growth-optimal stake is about the excess rate, which ranges from under 1% to most of the traffic. */
export const DRIFT_FRACTIONS = [0.01, 0.04, 0.16, 0.64] as const;

export interface DriftBetOptions {
  /** Held-out scores behind each p-value (the n in j/(n+1)). */
  calibrationSize: number;
  /** Chance, over the calibration draw, that some reference rate is too low; it adds to the false-alarm bound. */
  risk: number;
  thresholds?: readonly number[];
  fractions?: readonly number[];
  /** False bets against exact uniformity (reference = threshold): only to show why the tolerance is needed. */
  exact?: boolean;
}

/** The thresholds on the p-value grid j/(n+1): each alpha becomes its nearest j >= 1, duplicates dropped. */
export function gridThresholds(calibrationSize: number, thresholds: readonly number[]): number[] {
  const n = calibrationSize;
  const steps = [...new Set(thresholds.map((a) => Math.min(n, Math.max(1, Math.round(a * (n + 1))))))];
  return steps.sort((a, b) => a - b);
}

export function driftBets(options: DriftBetOptions): StepBet[] {
  const { calibrationSize: n, risk } = options;
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`the calibration size must be a positive integer, got ${n}`);
  if (!(risk > 0 && risk < 1)) throw new RangeError(`the calibration risk must be in (0, 1), got ${risk}`);
  const steps = gridThresholds(n, options.thresholds ?? DRIFT_THRESHOLDS);
  const fractions = options.fractions ?? DRIFT_FRACTIONS;
  const weight = 1 / (steps.length * fractions.length);
  return steps.flatMap((j) => {
    // A little above j/(n+1), so a p-value computed as exactly j/(n+1) counts as a hit whatever its rounding.
    const threshold = (j + 0.5) / (n + 1);
    const reference = options.exact ? j / (n + 1) : betaQuantile(1 - risk / steps.length, j, n + 1 - j);
    return fractions.map((fraction) => ({ threshold, reference: Math.min(reference, 1 - 1e-9), fraction, weight }));
  });
}

/** Bets against exact uniformity, for p-values that are exactly uniform on clean streams (online ranks). */
export function uniformBets(thresholds: readonly number[] = DRIFT_THRESHOLDS, fractions: readonly number[] = DRIFT_FRACTIONS): StepBet[] {
  const weight = 1 / (thresholds.length * fractions.length);
  return thresholds.flatMap((threshold) => fractions.map((fraction) => ({ threshold, reference: threshold, fraction, weight })));
}
