import { driftBets, uniformBets } from '../math/drift-bets.js';
import { OnlineRanks } from '../math/online-ranks.js';
import { createRng, type Rng } from '../math/random.js';
import { ChangePointMartingale } from '../math/test-martingale.js';

/**
 * The drift statistic of one model's stream of combined p-values (docs/design.md §4): the larger
 * of two test martingales, each divided by its share of the false-alarm budget.
 *
 * - Against the calibration set: the p-values as they come, bet on with a tolerance for the one
 *   calibration set they were computed against. It sees traffic that has been unlike the
 *   calibration data from the start. Its budget is delta/4 for Ville's inequality and delta/4 for
 *   the chance that the tolerance was too small, so it is divided by 4.
 * - Against the stream's own past: each p-value ranked among the earlier ones (online conformal
 *   p-values, exactly uniform while the traffic is exchangeable, whatever the calibration set did),
 *   bet on with no tolerance. It sees a change that begins after the stream started. Its budget
 *   is delta/2, so it is divided by 2.
 *
 * The alarm is statistic >= 1/delta. By the union bound it fires, ever, on in-distribution
 * traffic with probability at most delta/4 + delta/4 + delta/2 = delta.
 */

/** Each part's martingale is divided by this before the two are compared with 1/delta. */
export const PART_DIVISORS = { calibration: 4, stream: 2 } as const;
const LOG10_DIVISORS = { calibration: Math.log10(PART_DIVISORS.calibration), stream: Math.log10(PART_DIVISORS.stream) } as const;
/** The share of delta the calibration part's tolerance may fail with. */
export const CALIBRATION_RISK_SHARE = 1 / 4;

export interface DriftStatisticOptions {
  /** Held-out scores the combined p-values are computed against: they take the values j/(n+1). */
  calibrationSize: number;
  delta: number;
  /** Breaks ties between equal p-values in the stream part; seeded in tests and evaluations. */
  rng?: Rng;
}

export interface DriftParts {
  /** log10 of the calibration part's martingale over its divisor. */
  calibration: number;
  /** log10 of the stream part's martingale over its divisor. */
  stream: number;
}

export class DriftStatistic {
  private readonly calibration: ChangePointMartingale;
  private readonly stream: ChangePointMartingale;
  private readonly ranks: OnlineRanks;
  private readonly levels: number;

  constructor(options: DriftStatisticOptions) {
    const { calibrationSize, delta } = options;
    if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
    this.levels = calibrationSize + 1;
    this.calibration = new ChangePointMartingale(driftBets({ calibrationSize, risk: delta * CALIBRATION_RISK_SHARE }));
    this.stream = new ChangePointMartingale(uniformBets());
    this.ranks = new OnlineRanks(this.levels, options.rng ?? createRng(Math.floor(Math.random() * 2 ** 32)));
  }

  /** P-values seen so far. */
  get count(): number {
    return this.calibration.count;
  }

  /** Takes the next combined p-value, in the order the stream's inputs arrived. */
  update(p: number): void {
    if (!(p > 0 && p <= 1)) throw new RangeError(`a combined p-value must be in (0, 1], got ${p}`);
    this.calibration.update(p);
    // The p-value's level on the grid j/(n+1); the smaller, the stranger.
    const level = Math.min(this.levels, Math.max(1, Math.round(p * this.levels)));
    this.stream.update(this.ranks.next(level));
  }

  parts(): DriftParts {
    return {
      calibration: this.calibration.log10() - LOG10_DIVISORS.calibration,
      stream: this.stream.log10() - LOG10_DIVISORS.stream,
    };
  }

  /** log10 of the statistic (the larger part; computed without parts(), since it runs per prediction). */
  log10(): number {
    return Math.max(this.calibration.log10() - LOG10_DIVISORS.calibration, this.stream.log10() - LOG10_DIVISORS.stream);
  }
}
