import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ModelInfo, PredictResult } from '../../detector/types.js';
import { liveTensors } from '../../model/backend.js';
import type { ShedReason } from './load-shedding.js';

/**
 * Prometheus metrics for one app instance. The registry is per app, never prom-client's global
 * one, so tests (and any embedding) can build many apps in one process.
 */
export interface OodMetrics {
  readonly registry: Registry;
  /** The one place every answered inference is counted, whichever route served it. */
  recordPrediction(result: PredictResult, model: string): void;
  recordReload(outcome: 'success' | 'failure', model: string): void;
  recordShed(reason: ShedReason): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: OodMetrics;
  }
}

/**
 * A gauge with one series per model, read at scrape time from `values` (model name, value), so it
 * can never disagree with what the routes say about the same models.
 */
export function perModelGauge(registry: Registry, name: string, help: string, values: () => Iterable<[string, number]>): Gauge<'model'> {
  return new Gauge({
    name,
    help,
    labelNames: ['model'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [model, value] of values()) this.set({ model }, value);
    },
  });
}

/** Label for requests no route matched, so scanners cannot blow up the series count. */
const UNMATCHED_ROUTE = 'unmatched';

const LINT_FAILING_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

export default fp(
  async (app) => {
    const registry = new Registry();
    // Standard names (no prefix) so the usual Node.js dashboards work unchanged.
    collectDefaultMetrics({ register: registry });
    // These three are gauges named like counters, which `promtool check metrics` rejects; each is
    // only the sum of its by-type sibling without the suffix (nodejs_active_handles etc.), which stays.
    for (const name of LINT_FAILING_DEFAULT_METRICS) registry.removeSingleMetric(name);

    const requestDuration = new Histogram({
      name: 'ood_http_request_duration_seconds',
      help: 'HTTP request latency, by route pattern',
      labelNames: ['method', 'route', 'status_code'] as const,
      registers: [registry],
    });

    const predictions = new Counter({
      name: 'ood_predictions_total',
      help: 'Instances scored, by model and by whether they were flagged as out of distribution',
      labelNames: ['model', 'outcome'] as const,
      registers: [registry],
    });
    // Both outcomes exist from the start, so rate() and ratios work before the first outlier.
    for (const model of app.servedModels()) {
      predictions.inc({ model, outcome: 'inlier' }, 0);
      predictions.inc({ model, outcome: 'outlier' }, 0);
    }

    const outlierScore = new Histogram({
      name: 'ood_outlier_score',
      help: 'Outlier score of each scored instance (1 - the combined conformal p-value), by model',
      labelNames: ['model'] as const,
      buckets: [0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1],
      registers: [registry],
    });

    const layerSearchDuration = new Histogram({
      name: 'ood_layer_search_duration_seconds',
      help: 'Nearest-neighbour search time for one request batch, by model and layer',
      labelNames: ['model', 'layer'] as const,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    });

    const batchRows = new Histogram({
      name: 'ood_scored_batch_rows',
      help: 'Rows scored in one pass with each request: its own, plus those of requests batched with it; by model',
      labelNames: ['model'] as const,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers: [registry],
    });

    // Gauges below describe the loaded detectors; they are read at scrape time, so they can never
    // disagree with what /readyz and /models/NAME say.
    new Gauge({
      name: 'ood_model_ready',
      help: '1 when the model and every index are loaded and requests are served, else 0; by model',
      labelNames: ['model'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const model of app.servedModels()) this.set({ model }, app.readyDetector(model) ? 1 : 0);
      },
    });

    /** The served, ready models' info, for gauges read at scrape time. */
    const readyInfos = () =>
      app
        .servedModels()
        .map((model) => app.readyDetector(model)?.info)
        .filter((info): info is ModelInfo => info !== undefined);

    /** A gauge read from each serving model's info at scrape time, labelled with the model's name. */
    const modelGauge = (name: string, help: string, read: (info: ModelInfo) => number) =>
      perModelGauge(registry, name, help, () => readyInfos().map((info) => [info.name, read(info)]));
    modelGauge('ood_reference_set_size', 'Points in the reference set the neighbours are searched in', (i) => i.reference_size);
    modelGauge(
      'ood_calibration_set_size',
      'Points in the calibration set the conformal p-values are computed from',
      (i) => i.calibration_size,
    );
    // The conformal bound as a series, so an alert can compare the flagged share with it.
    modelGauge(
      'ood_significance',
      'Significance level of the outlier decision: the bound on the share of in-distribution inputs flagged',
      (i) => i.significance,
    );

    new Gauge({
      name: 'ood_model_runtime_info',
      help: 'Always 1; labels name each model, its version, what runs it (tfjs, onnx or features) and that runtime\'s backend',
      labelNames: ['runtime', 'backend', 'model', 'version'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const info of readyInfos()) this.set({ runtime: info.runtime, backend: info.backend, model: info.name, version: info.version }, 1);
      },
    });

    new Gauge({
      name: 'ood_tfjs_tensors',
      help: 'Tensors alive in the tfjs engine; it stays flat while serving unless something leaks',
      registers: [registry],
      collect() {
        this.set(liveTensors());
      },
    });

    const reloads = new Counter({
      name: 'ood_model_reloads_total',
      help: 'Model reloads (SIGHUP or POST /admin/reload), by model and outcome',
      labelNames: ['model', 'outcome'] as const,
      registers: [registry],
    });
    for (const model of app.servedModels()) {
      reloads.inc({ model, outcome: 'success' }, 0);
      reloads.inc({ model, outcome: 'failure' }, 0);
    }

    const shed = new Counter({
      name: 'ood_requests_shed_total',
      help: 'Requests answered 503 OVERLOADED by load shedding, by the bound that was passed',
      labelNames: ['reason'] as const,
      registers: [registry],
    });
    shed.inc({ reason: 'event_loop_delay' }, 0);
    shed.inc({ reason: 'heap_used' }, 0);

    const metrics: OodMetrics = {
      recordShed(reason) {
        shed.inc({ reason });
      },
      recordReload(outcome, model) {
        reloads.inc({ model, outcome });
      },
      registry,
      recordPrediction({ predictions: scored, searchSeconds, batchRows: rows }, model) {
        batchRows.observe({ model }, rows ?? scored.length);
        let outliers = 0;
        for (const prediction of scored) {
          if (prediction.is_outlier) outliers++;
          outlierScore.observe({ model }, prediction.outlier_score);
        }
        predictions.inc({ model, outcome: 'outlier' }, outliers);
        predictions.inc({ model, outcome: 'inlier' }, scored.length - outliers);
        for (const [layer, seconds] of Object.entries(searchSeconds)) {
          layerSearchDuration.observe({ model, layer }, seconds);
        }
      },
    };
    app.decorate('metrics', metrics);

    app.addHook('onResponse', async (request, reply) => {
      requestDuration.observe(
        {
          method: request.method,
          route: request.routeOptions.url ?? UNMATCHED_ROUTE,
          status_code: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      );
    });

    app.addHook('onClose', async () => {
      registry.clear();
    });
  },
  { name: 'ood-metrics', fastify: '5.x', dependencies: ['ood-detector'] },
);
