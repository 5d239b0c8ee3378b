import { getHeapStatistics } from 'node:v8';

export interface PressureMonitorOptions {
  /** How often the event loop is sampled; a tick that fires late by X ms saw X ms of delay. */
  intervalMs: number;
  /** How fast a delay reading fades once the loop keeps up again: it halves every this many ms. */
  halfLifeMs: number;
}

/**
 * Event-loop delay and heap use, as a load shedder needs them: a timer that fires late by X ms
 * means whatever arrived during those X ms waited up to X ms before anyone looked at it. Each tick
 * records that lateness directly, so a stall of any length reads as its own length, at the first
 * tick after it (a histogram mean taken once a second, as in @fastify/under-pressure, reads a
 * stall that spans a whole sampling window as Infinity and one inside a window as a small mean).
 * The reading then decays, so shedding goes on briefly while the backlog clears and stops on
 * its own once the loop keeps up.
 */
export class PressureMonitor {
  private delay = 0;
  private heapUsed = 0;
  private last = performance.now();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly opts: PressureMonitorOptions) {
    this.timer = setInterval(() => this.tick(), opts.intervalMs);
    // A monitor must never keep a process alive that would otherwise exit.
    this.timer.unref();
    this.sampleHeap();
  }

  /** The recent event-loop delay in ms: the latest lateness, or an older one still fading. */
  eventLoopDelayMs(): number {
    // A tick that is overdue right now counts too: the loop is stalled at this very moment.
    const overdue = performance.now() - this.last - this.opts.intervalMs;
    return Math.max(this.delay, overdue);
  }

  heapUsedBytes(): number {
    return this.heapUsed;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    const now = performance.now();
    const late = Math.max(0, now - this.last - this.opts.intervalMs);
    const fade = 0.5 ** ((now - this.last) / this.opts.halfLifeMs);
    this.delay = Math.max(late, this.delay * fade);
    this.last = now;
    this.sampleHeap();
  }

  private sampleHeap(): void {
    this.heapUsed = getHeapStatistics().used_heap_size;
  }
}
