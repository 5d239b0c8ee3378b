import type { Rng } from './random.js';

/**
 * Online conformal p-values of a stream of discrete scores against the stream's own past.
 *
 * Each new value is ranked among every value seen so far, itself included, with ties broken by
 * a uniform draw (the "smoothed" conformal p-value). When the stream is exchangeable, whatever
 * its distribution, these p-values are independent and exactly uniform on [0, 1] (Vovk,
 * Gammerman and Shafer, Algorithmic Learning in a Random World, 2005, §8.1), so a martingale
 * betting on them needs no tolerance. What they detect is a change within the stream: a stream
 * that was unusual from its first value ranks as ordinary against itself.
 *
 * Values are levels 1..levels, the smaller the stranger; a Fenwick tree keeps the counts below
 * each level, so a step costs O(log levels) whatever the stream's length.
 */
export class OnlineRanks {
  private readonly tree: Float64Array;
  private readonly counts: Float64Array;
  private seen = 0;

  constructor(
    readonly levels: number,
    private readonly rng: Rng,
  ) {
    if (!(Number.isInteger(levels) && levels >= 1)) throw new RangeError(`levels must be a positive integer, got ${levels}`);
    this.tree = new Float64Array(levels + 1);
    this.counts = new Float64Array(levels + 1);
  }

  /** Values seen so far. */
  get count(): number {
    return this.seen;
  }

  /** The smoothed p-value of `level` (an integer in 1..levels) against the past, then adds it to the past. */
  next(level: number): number {
    if (!(Number.isInteger(level) && level >= 1 && level <= this.levels)) throw new RangeError(`level ${level} is not an integer in [1, ${this.levels}]`);
    const stranger = this.countBelow(level);
    const tied = this.counts[level] + 1;
    this.seen++;
    this.add(level);
    return (stranger + this.rng() * tied) / this.seen;
  }

  /** How many earlier values are strictly below `level`. */
  private countBelow(level: number): number {
    let sum = 0;
    for (let i = level - 1; i > 0; i -= i & -i) sum += this.tree[i];
    return sum;
  }

  private add(level: number): void {
    this.counts[level]++;
    for (let i = level; i <= this.levels; i += i & -i) this.tree[i]++;
  }
}
