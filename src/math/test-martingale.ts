/**
 * A conformal test martingale over a stream of p-values, for drift alarms (docs/design.md §4).
 *
 * It is a mixture, over every possible change point s, of martingales that start betting at s:
 *
 *   M_t = sum_s w(s) * prod_{u = s..t} f(p_u)   (a term is 1 while t < s)
 *
 * with each f a step bet on small p-values. A mixture of (super)martingales that each start
 * at 1 is one too, so Ville's inequality bounds the chance that M ever reaches 1/delta by
 * delta, over the whole stream, not a fixed horizon. The mixture over start points is what
 * lets it detect a shift that begins long after start-up: the terms that start just before the
 * shift grow from there, whatever the earlier ones did. Its price is the weight of a late start,
 * about 1/(s ln^2 s): ln s + 2 ln ln s nats more evidence needed than at start-up.
 *
 * Updating costs O(bets) per p-value, because the sum over start points folds into one running
 * sum per bet: A_t = f(p_t) * (A_{t-1} + w(t)).
 */

/**
 * One step bet: it stakes `fraction` of its capital on p <= threshold, at the odds that make it
 * fair when that happens with probability `reference`:
 *
 *   f(p) = 1 + fraction * (1{p <= threshold} / reference - 1).
 *
 * E f(p) <= 1 whenever P(p <= threshold) <= reference, so the bet is a supermartingale factor for
 * every stream that does not exceed the reference rate: the reference is the tolerance.
 */
export interface StepBet {
  threshold: number;
  /** The most P(p <= threshold) may be while the stream counts as clean; in (0, 1). */
  reference: number;
  /** Share of capital staked, in (0, 1]; the factor on a miss is 1 - fraction. */
  fraction: number;
  /** Share of the prior on this bet; the weights sum to 1. */
  weight: number;
}

const LN2 = Math.LN2;

/** Prior weight of the term that starts betting at step s (1-based): ln 2 (1/ln(s+1) - 1/ln(s+2)); they sum to 1. */
export function startWeight(s: number): number {
  // The difference of the two reciprocals, written without cancelling digits at large s.
  return (LN2 * Math.log1p(1 / (s + 1))) / (Math.log(s + 1) * Math.log(s + 2));
}

/** Total weight of the terms that have not started after t steps: ln 2 / ln(t+2). */
export function unstartedWeight(t: number): number {
  return LN2 / Math.log(t + 2);
}

/**
 * Outside [RESCALE_BELOW, RESCALE_ABOVE] the running sums are rescaled (their log kept apart), so
 * no product overflows, and so that after a huge excursion the new start points' weights,
 * divided by e^scale, do not underflow to 0 and leave the statistic blind to a second shift.
 */
const RESCALE_ABOVE = 1e150;
const RESCALE_BELOW = 1e-150;

export function checkBets(bets: readonly StepBet[]): void {
  if (bets.length === 0) throw new RangeError('a test martingale needs at least one bet');
  let total = 0;
  for (const [i, b] of bets.entries()) {
    const ok = b.threshold > 0 && b.threshold < 1 && b.reference > 0 && b.reference < 1 && b.fraction > 0 && b.fraction <= 1 && b.weight > 0;
    if (!ok) throw new RangeError(`bet ${i} is out of range: ${JSON.stringify(b)}`);
    total += b.weight;
  }
  if (Math.abs(total - 1) > 1e-9) throw new RangeError(`the bets' weights sum to ${total}, not 1`);
}

/** The mixture martingale over change points and bets; `update` takes each p-value in stream order. */
export class ChangePointMartingale {
  private readonly hit: Float64Array;
  private readonly miss: Float64Array;
  private readonly thresholds: Float64Array;
  private readonly weights: Float64Array;
  /** Per bet, sum_s w(s) prod f, divided by e^scale. */
  private readonly sums: Float64Array;
  private scale = 0;
  private steps = 0;

  constructor(readonly bets: readonly StepBet[]) {
    checkBets(bets);
    this.hit = Float64Array.from(bets, (b) => 1 + b.fraction * (1 / b.reference - 1));
    this.miss = Float64Array.from(bets, (b) => 1 - b.fraction);
    this.thresholds = Float64Array.from(bets, (b) => b.threshold);
    this.weights = Float64Array.from(bets, (b) => b.weight);
    this.sums = new Float64Array(bets.length);
  }

  /** P-values seen so far. */
  get count(): number {
    return this.steps;
  }

  update(p: number): void {
    // A NaN p-value is no evidence of anything; it must not poison the sums.
    if (Number.isNaN(p)) throw new RangeError('a p-value must be a number');
    this.steps++;
    const fresh = startWeight(this.steps) * Math.exp(-this.scale);
    let largest = 0;
    for (let k = 0; k < this.sums.length; k++) {
      const next = (this.sums[k] + fresh) * (p <= this.thresholds[k] ? this.hit[k] : this.miss[k]);
      this.sums[k] = next;
      if (next > largest) largest = next;
    }
    if (largest > RESCALE_ABOVE || (largest > 0 && largest < RESCALE_BELOW)) {
      for (let k = 0; k < this.sums.length; k++) this.sums[k] /= largest;
      this.scale += Math.log(largest);
    }
  }

  /** log10 M_t; 0 before the first p-value, since M_0 = 1. */
  log10(): number {
    let started = 0;
    for (let k = 0; k < this.sums.length; k++) started += this.weights[k] * this.sums[k];
    const unstarted = unstartedWeight(this.steps);
    // log(e^scale * started + unstarted), without overflowing e^scale.
    const logStarted = Math.log(started) + this.scale;
    const logUnstarted = Math.log(unstarted);
    const high = Math.max(logStarted, logUnstarted);
    const ln = high + Math.log(Math.exp(logStarted - high) + Math.exp(logUnstarted - high));
    return ln / Math.LN10;
  }
}
