/**
 * The alert rule OodOutlierShareHigh (deploy/prometheus/alerts.yml), replayed on a stream of
 * predictions, so the drift evaluation can set it beside the drift test on the same streams.
 *
 * Prometheus evaluates it once a minute on the last 30 minutes: it is true when the flagged
 * share is more than 3 standard deviations above the significance (binomial spread over the
 * window plus the calibration set's own), with over 100 predictions in the window; it fires
 * once it has been true at every evaluation for 10 minutes. With traffic at a steady rate,
 * minutes are a number of predictions.
 */
export interface OutlierShareRuleOptions {
  significance: number;
  /** Held-out calibration scores the p-values are computed against (the m in the rule). */
  calibrationSize: number;
  /** Predictions per minute of traffic. */
  perMinute: number;
  windowMinutes?: number;
  forMinutes?: number;
}

export class OutlierShareRule {
  private readonly window: number;
  private readonly forMinutes: number;
  /** Per minute, [flagged, all], the last `window` of them. */
  private readonly minutes: [number, number][] = [];
  private flagged = 0;
  private seen = 0;
  private trueSince: number | undefined;
  private minute = 0;
  /** The prediction count at which the alert first fired, or undefined. */
  firedAt: number | undefined;

  constructor(private readonly options: OutlierShareRuleOptions) {
    this.window = options.windowMinutes ?? 30;
    this.forMinutes = options.forMinutes ?? 10;
  }

  /** Takes one prediction's combined p-value; it is flagged when p <= significance. */
  update(p: number): void {
    if (p <= this.options.significance) this.flagged++;
    this.seen++;
    if (this.seen === this.options.perMinute) this.evaluate();
  }

  private evaluate(): void {
    this.minutes.push([this.flagged, this.seen]);
    if (this.minutes.length > this.window) this.minutes.shift();
    this.flagged = 0;
    this.seen = 0;
    this.minute++;
    if (this.condition()) {
      this.trueSince ??= this.minute;
      if (this.firedAt === undefined && this.minute - this.trueSince >= this.forMinutes) this.firedAt = this.minute * this.options.perMinute;
    } else {
      this.trueSince = undefined;
    }
  }

  private condition(): boolean {
    const { significance: a, calibrationSize: m } = this.options;
    let flagged = 0;
    let all = 0;
    for (const [f, n] of this.minutes) {
      flagged += f;
      all += n;
    }
    if (all <= 100) return false;
    return flagged / all > a + 3 * Math.sqrt(a * (1 - a) * (1 / all + 1 / (m + 2)));
  }
}
