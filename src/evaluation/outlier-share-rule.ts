/**
 * The alert rule OodOutlierShareHigh (deploy/prometheus/alerts.yml), replayed on a stream of
 * predictions, so the drift evaluation can set it beside the drift test on the same streams.
 *
 * Prometheus evaluates it every 15 s (deploy/prometheus/prometheus.yml) on the last 30 minutes:
 * it is true when the flagged share is more than 3 standard deviations above the significance
 * (binomial spread over the window plus the calibration set's own), with over 100 predictions in
 * the window; it fires once it has been true at every evaluation for 10 minutes. With traffic at
 * a steady rate, time is a number of predictions.
 */
export interface OutlierShareRuleOptions {
  significance: number;
  /** Held-out calibration scores the p-values are computed against (the m in the rule). */
  calibrationSize: number;
  /** Predictions per minute of traffic. */
  perMinute: number;
  /** Prometheus' evaluation_interval; a whole number of predictions at `perMinute`. */
  evaluationSeconds?: number;
  windowMinutes?: number;
  forMinutes?: number;
}

export class OutlierShareRule {
  /** Predictions between two evaluations. */
  private readonly perEvaluation: number;
  /** Evaluations in the window, and in the `for`. */
  private readonly window: number;
  private readonly forEvaluations: number;
  /** Per evaluation interval, [flagged, all], the last `window` of them. */
  private readonly intervals: [number, number][] = [];
  private flagged = 0;
  private seen = 0;
  private trueSince: number | undefined;
  private evaluations = 0;
  /** The prediction count at which the alert first fired, or undefined. */
  firedAt: number | undefined;

  constructor(private readonly options: OutlierShareRuleOptions) {
    const seconds = options.evaluationSeconds ?? 15;
    this.perEvaluation = Math.round((options.perMinute * seconds) / 60);
    if (this.perEvaluation < 1) throw new RangeError(`${options.perMinute} predictions a minute is less than one per ${seconds} s evaluation`);
    this.window = Math.round(((options.windowMinutes ?? 30) * 60) / seconds);
    this.forEvaluations = Math.round(((options.forMinutes ?? 10) * 60) / seconds);
  }

  /** Takes one prediction's combined p-value; it is flagged when p <= significance. */
  update(p: number): void {
    if (p <= this.options.significance) this.flagged++;
    this.seen++;
    if (this.seen === this.perEvaluation) this.evaluate();
  }

  private evaluate(): void {
    this.intervals.push([this.flagged, this.seen]);
    if (this.intervals.length > this.window) this.intervals.shift();
    this.flagged = 0;
    this.seen = 0;
    this.evaluations++;
    if (this.condition()) {
      this.trueSince ??= this.evaluations;
      if (this.firedAt === undefined && this.evaluations - this.trueSince >= this.forEvaluations) this.firedAt = this.evaluations * this.perEvaluation;
    } else {
      this.trueSince = undefined;
    }
  }

  private condition(): boolean {
    const { significance: a, calibrationSize: m } = this.options;
    let flagged = 0;
    let all = 0;
    for (const [f, n] of this.intervals) {
      flagged += f;
      all += n;
    }
    if (all <= 100) return false;
    return flagged / all > a + 3 * Math.sqrt(a * (1 - a) * (1 / all + 1 / (m + 2)));
  }
}
