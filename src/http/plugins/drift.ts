import fp from 'fastify-plugin';
import { decisionCalibrationSize } from '../../detector/calibration.js';
import type { Detector } from '../../detector/types.js';
import { DriftMonitor, type DriftStatus, type DriftTicket } from '../../drift/drift-monitor.js';
import { perModelGauge } from './metrics.js';

export interface DriftControl {
  /** A place in the model's stream for one request, taken before its inputs are scored. */
  admit(detector: Detector): DriftTicket;
  /** The served model's drift status; NOT_READY (thrown) while it is not loaded. */
  status(model?: string): DriftStatus;
  /** Starts the model's statistic afresh, and returns the new status. */
  reset(model?: string): DriftStatus;
}

declare module 'fastify' {
  interface FastifyInstance {
    drift: DriftControl;
  }
}

export interface DriftPluginOptions {
  /** The alarm's bound on a false alarm, ever, on in-distribution traffic. */
  delta: number;
}

/**
 * A drift monitor per loaded model version (docs/design.md §4). Each belongs to its detector, so
 * a reload, which brings a new detector and a new calibration set, starts a new statistic, and
 * requests still finishing on the old detector feed the old one, never the new.
 */
export default fp<DriftPluginOptions>(
  async (app, { delta }) => {
    const monitors = new WeakMap<Detector, DriftMonitor>();
    const start = (detector: Detector) => {
      const { name, version, calibration_size: size } = detector.info;
      const monitor = new DriftMonitor({ model: name, version, delta, calibrationSize: decisionCalibrationSize(size) });
      monitors.set(detector, monitor);
      return monitor;
    };
    const monitorOf = (detector: Detector) => monitors.get(detector) ?? start(detector);

    app.decorate('drift', {
      admit: (detector) => monitorOf(detector).admit(),
      status: (model) => monitorOf(app.requireDetector(model)).status(),
      reset: (model) => start(app.requireDetector(model)).status(),
    } satisfies DriftControl);

    /** A gauge read from each ready model's drift status at scrape time. */
    const driftGauge = (name: string, help: string, read: (status: DriftStatus) => number) =>
      perModelGauge(app.metrics.registry, name, help, () =>
        app
          .servedModels()
          .map((model) => app.readyDetector(model))
          .filter((detector): detector is Detector => detector !== undefined)
          .map((detector) => [detector.info.name, read(monitorOf(detector).status())]),
      );
    driftGauge('ood_drift_log10_statistic', 'log10 of the drift test statistic over the combined p-values since load or reset; by model', (s) => s.statistic);
    driftGauge('ood_drift_log10_threshold', 'log10(1/delta): the drift alarm fires when the statistic reaches it; by model', (s) => s.threshold);
    driftGauge('ood_drift_alarm', '1 once the drift statistic has reached its threshold since load or reset, else 0; by model', (s) => (s.alarm ? 1 : 0));
    driftGauge('ood_drift_predictions', 'Predictions the drift statistic has taken since load or reset; by model', (s) => s.predictions);
  },
  { name: 'ood-drift', fastify: '5.x', dependencies: ['ood-detector', 'ood-metrics'] },
);
