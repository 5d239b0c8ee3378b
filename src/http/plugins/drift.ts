import fp from 'fastify-plugin';
import { decisionCalibrationSize } from '../../detector/calibration.js';
import type { Detector } from '../../detector/types.js';
import { DriftMonitor, type DriftStatus, type DriftTicket } from '../../drift/drift-monitor.js';
import { OodError } from '../../errors.js';
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

const UNTRACKED: DriftTicket = { record: () => {}, cancel: () => {} };

export interface DriftPluginOptions {
  /** The alarm's bound on a false alarm, ever, on in-distribution traffic. */
  delta: number;
}

/**
 * A drift monitor per loaded model version (docs/design.md §4). Each belongs to its detector, so
 * a reload, which brings a new detector, starts a new statistic (on the same calibration set
 * unless the model or its data changed), and requests still finishing on the old detector feed
 * the old one, never the new.
 */
export default fp<DriftPluginOptions>(
  async (app, { delta }) => {
    const monitors = new WeakMap<Detector, DriftMonitor>();
    /** Why a detector's monitor could not be built: its requests are scored without one, and it is tried once. */
    const broken = new WeakMap<Detector, string>();
    const start = (detector: Detector) => {
      const { name, version, calibration_size: size } = detector.info;
      const monitor = new DriftMonitor({ model: name, version, delta, calibrationSize: decisionCalibrationSize(size) });
      monitors.set(detector, monitor);
      return monitor;
    };
    const monitorOf = (detector: Detector): DriftMonitor => {
      const reason = broken.get(detector);
      if (reason !== undefined) throw new OodError('INTERNAL', `The drift test of model ${detector.info.name} could not start: ${reason}`);
      try {
        return monitors.get(detector) ?? start(detector);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        broken.set(detector, message);
        app.log.error({ err, model: detector.info.name }, 'the drift test could not start; predictions are served without it');
        throw new OodError('INTERNAL', `The drift test of model ${detector.info.name} could not start: ${message}`);
      }
    };

    app.decorate('drift', {
      // A drift test that cannot start must never fail a prediction: the request goes on untracked.
      admit: (detector) => {
        try {
          return monitorOf(detector).admit();
        } catch {
          return UNTRACKED;
        }
      },
      status: (model) => monitorOf(app.requireDetector(model)).status(),
      reset: (model) => start(app.requireDetector(model)).status(),
    } satisfies DriftControl);

    /** A gauge read from each ready model's drift status at scrape time. */
    const driftGauge = (name: string, help: string, read: (status: DriftStatus) => number) =>
      perModelGauge(app.metrics.registry, name, help, () =>
        app
          .servedModels()
          .map((model) => app.readyDetector(model))
          .flatMap((detector): [string, number][] => {
            if (!detector || broken.has(detector)) return [];
            try {
              return [[detector.info.name, read(monitorOf(detector).status())]];
            } catch {
              // Logged where it failed; a scrape must not fail with it.
              return [];
            }
          }),
      );
    driftGauge('ood_drift_log10_statistic', 'log10 of the drift test statistic over the combined p-values since load or reset; by model', (s) => s.statistic);
    driftGauge('ood_drift_log10_threshold', 'log10(1/delta): the drift alarm fires when the statistic reaches it; by model', (s) => s.threshold);
    driftGauge('ood_drift_alarm', '1 once the drift statistic has reached its threshold since load or reset, else 0; by model', (s) => (s.alarm ? 1 : 0));
    driftGauge('ood_drift_predictions', 'Predictions the drift statistic has taken since load or reset; by model', (s) => s.predictions);
    driftGauge('ood_drift_pending', 'Requests admitted whose p-values have not entered the drift statistic yet; by model', (s) => s.pending);
  },
  { name: 'ood-drift', fastify: '5.x', dependencies: ['ood-detector', 'ood-metrics'] },
);
