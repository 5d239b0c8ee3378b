import { z } from 'zod';
import { DriftStatistic, type DriftStatisticOptions } from './drift-statistic.js';

/** What GET /v1/models/{name}/drift answers, and what the gauges read. */
export const DriftStatusSchema = z.object({
  model: z.string(),
  version: z.string(),
  /** log10 of the drift statistic; it starts at log10(1/2), each part's martingale at 1. */
  statistic: z.number(),
  /** log10(1/delta): the alarm fires when the statistic reaches it. */
  threshold: z.number(),
  delta: z.number(),
  /** True once the statistic has reached the threshold; it stays true until a reset or reload. */
  alarm: z.boolean(),
  /** When the statistic started afresh: this model version's first use, or the last reset. */
  since: z.string(),
  /** Predictions the statistic has taken since then, in the order their requests arrived. */
  predictions: z.number().int(),
  /** Requests admitted whose p-values have not entered yet: running, or finished behind one that is. */
  pending: z.number().int(),
  /** When, and after how many predictions, the statistic first reached the threshold. */
  alarmed_at: z.object({ time: z.string(), predictions: z.number().int() }).optional(),
  /** Each part's log10, over its divisor (docs/design.md §4): the statistic is the larger. */
  parts: z.object({ calibration: z.number(), stream: z.number() }),
});
export type DriftStatus = z.infer<typeof DriftStatusSchema>;

/** Finished requests held back behind an unfinished earlier one, at most. */
export const MAX_WAITING = 10_000;
/**
 * Their p-values, at most: whatever is held back enters in one go when the earlier request
 * settles, on the event loop, so this bounds that pause (about 50 ms at 0.5 µs a p-value) and the
 * memory held, whatever the batch size.
 */
export const MAX_WAITING_VALUES = 100_000;
/** How long a finished request is held back behind an unfinished earlier one, at most. */
export const MAX_WAIT_MS = 60_000;

/** One request's place in the stream: taken before its inputs are scored, settled once. */
export interface DriftTicket {
  /** The request's combined p-values, in row order. */
  record(pValues: readonly number[]): void;
  /** The request scored nothing (it failed); its place is given up. */
  cancel(): void;
}

export interface DriftMonitorOptions extends DriftStatisticOptions {
  model: string;
  version: string;
  now?: () => Date;
}

/**
 * One model version's drift statistic, fed in the order requests were admitted.
 *
 * Requests finish out of order (scoring threads, batches that merge several requests, inputs
 * that take longer to decode), and the order in which they finish can depend on the inputs
 * themselves. The order in which they were admitted cannot: it is fixed before any of them is
 * scored. So each request takes a ticket on admission, and a result that finishes before an
 * earlier ticket's waits for it. Under the null (in-distribution traffic, independent and
 * identically distributed in arrival order) the p-values then enter independent of how they
 * were computed, which is what the martingales' guarantee needs.
 */
export class DriftMonitor {
  private readonly statistic: DriftStatistic;
  private readonly now: () => Date;
  /** The same clock in ms, without a Date per request where no test sets one. */
  private readonly nowMs: () => number;
  readonly since: Date;
  private alarmedAt: { time: Date; predictions: number } | undefined;
  private issued = 0;
  private nextToApply = 0;
  /** Results that finished before an earlier ticket: undefined for a cancelled one. */
  private readonly waiting = new Map<number, readonly number[] | undefined>();
  /** The p-values in `waiting`. */
  private waitingValues = 0;
  /** When each unsettled ticket was admitted (ms). */
  private readonly admittedAt = new Map<number, number>();

  constructor(private readonly options: DriftMonitorOptions) {
    this.statistic = new DriftStatistic(options);
    const now = options.now;
    this.now = now ?? (() => new Date());
    this.nowMs = now ? () => now().getTime() : Date.now;
    this.since = this.now();
  }

  admit(): DriftTicket {
    const seq = this.issued++;
    this.admittedAt.set(seq, this.nowMs());
    let settled = false;
    const settle = (values: readonly number[] | undefined) => {
      if (settled) return;
      settled = true;
      this.admittedAt.delete(seq);
      // A ticket given up while it hung (see MAX_WAITING) comes too late to enter.
      if (seq < this.nextToApply) return;
      if (seq === this.nextToApply) {
        // The common case, nothing before it outstanding: it enters at once.
        this.nextToApply++;
        this.apply(values);
        if (this.waiting.size > 0) this.applyReady();
        return;
      }
      this.waiting.set(seq, values);
      this.waitingValues += values?.length ?? 0;
      this.applyReady();
    };
    return { record: (pValues) => settle(pValues), cancel: () => settle(undefined) };
  }

  /** Tickets admitted but not yet taken into the statistic (their own or an earlier one is still running). */
  get pending(): number {
    return this.issued - this.nextToApply;
  }

  private apply(values: readonly number[] | undefined): void {
    if (!values) return;
    const threshold = this.threshold();
    for (const p of values) {
      // Combined p-values are (c+1)/(n+1); anything else is a detector's bug, and must not fail the request that carried it.
      if (!(p > 0 && p <= 1)) continue;
      this.statistic.update(p);
      if (!this.alarmedAt && this.statistic.log10() >= threshold) this.alarmedAt = { time: this.now(), predictions: this.statistic.count };
    }
  }

  private applyReady(): void {
    for (;;) {
      const next = this.nextToApply;
      if (this.waiting.has(next)) {
        const values = this.waiting.get(next);
        this.waiting.delete(next);
        this.waitingValues -= values?.length ?? 0;
        this.nextToApply++;
        this.apply(values);
        continue;
      }
      if (this.waiting.size === 0) return;
      // A request that never finishes would hold every later result back for ever. Once
      // MAX_WAITING results (or MAX_WAITING_VALUES p-values) are held, or after MAX_WAIT_MS, the
      // earliest unsettled ticket is given up, as if its request had failed.
      const now = this.nowMs();
      const overdue = now - (this.admittedAt.get(next) ?? now) > MAX_WAIT_MS;
      const full = this.waiting.size >= MAX_WAITING || this.waitingValues >= MAX_WAITING_VALUES;
      if (!full && !overdue) return;
      this.admittedAt.delete(next);
      this.nextToApply++;
    }
  }

  private threshold(): number {
    return Math.log10(1 / this.options.delta);
  }

  status(): DriftStatus {
    const alarmedAt = this.alarmedAt;
    return {
      model: this.options.model,
      version: this.options.version,
      statistic: this.statistic.log10(),
      threshold: this.threshold(),
      delta: this.options.delta,
      alarm: alarmedAt !== undefined,
      since: this.since.toISOString(),
      predictions: this.statistic.count,
      pending: this.pending,
      ...(alarmedAt ? { alarmed_at: { time: alarmedAt.time.toISOString(), predictions: alarmedAt.predictions } } : {}),
      parts: this.statistic.parts(),
    };
  }
}
