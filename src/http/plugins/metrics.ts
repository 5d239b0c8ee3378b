import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ModelInfo, PredictResult } from '../../detector/types.js';
import { searchSecondsByLayer } from '../../detector/work-phases.js';
import { liveTensors } from '../../model/backend.js';
import type { ShedReason } from './load-shedding.js';

/** The transports a request reaches the scoring path by. */
export const PROTOCOLS = ['rest', 'grpc'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/**
 * Prometheus metrics for one app instance. The registry is per app, never prom-client's global
 * one, so tests (and any embedding) can build many apps in one process.
 */
export interface OodMetrics {
  readonly registry: Registry;
  /** The one place every answered inference is counted, whichever route or transport served it. */
  recordPrediction(result: PredictResult, model: string, protocol: Protocol): void;
  /** One finished gRPC call: its method, its status code's name, and how long it took. */
  recordGrpcCall(method: string, code: string, seconds: number): void;
  recordReload(outcome: 'success' | 'failure', model: string): void;
  recordShed(reason: ShedReason): void;
  /** A model served after start (a repository load): its counters' series exist from now on, at 0, as the first models' do. */
  addModel(model: string): void;
  /**
   * A model no longer served (a repository unload): its series go, so that the versions a
   * repository loads and unloads over months do not pile up in every scrape.
   */
  removeModel(model: string, layers: readonly string[]): void;
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

interface HistogramSpec {
  name: string;
  help: string;
  labelNames: string[];
  buckets?: number[];
}

interface CounterSpec {
  name: string;
  help: string;
  labelNames: string[];
  /** The series that exist from the start, at 0. */
  zeroes: (models: string[]) => Record<string, string>[];
}

/** The histograms the service records into, each declared once. */
const HISTOGRAMS = {
  requestDuration: {
    name: 'ood_http_request_duration_seconds',
    help: 'HTTP request latency, by route pattern',
    labelNames: ['method', 'route', 'status_code'],
  },
  outlierScore: {
    name: 'ood_outlier_score',
    help: 'Outlier score of each scored instance (1 - the combined conformal p-value), by model',
    labelNames: ['model'],
    buckets: [0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1],
  },
  layerSearchDuration: {
    name: 'ood_layer_search_duration_seconds',
    help: 'Nearest-neighbour search time for one request batch, by model and layer',
    labelNames: ['model', 'layer'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  },
  grpcDuration: {
    name: 'ood_grpc_request_duration_seconds',
    help: 'gRPC call latency, by method and status code',
    labelNames: ['method', 'code'],
  },
  batchRows: {
    name: 'ood_scored_batch_rows',
    help: 'Rows scored in one pass with each request: its own, plus those of requests batched with it; by model',
    labelNames: ['model'],
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
  },
} satisfies Record<string, HistogramSpec>;

/**
 * The counters, each declared once with the series that exist from the start (at 0), so rate()
 * and ratios work before the first event of a kind.
 */
const COUNTERS = {
  predictions: {
    name: 'ood_predictions_total',
    help: 'Instances scored, by model and by whether they were flagged as out of distribution',
    labelNames: ['model', 'outcome'],
    zeroes: (models: string[]) => models.flatMap((model) => [{ model, outcome: 'inlier' }, { model, outcome: 'outlier' }]),
  },
  inferenceRequests: {
    name: 'ood_inference_requests_total',
    help: 'Inference requests scored, by model and by the protocol they came by (rest or grpc)',
    labelNames: ['model', 'protocol'],
    zeroes: (models: string[]) => models.flatMap((model) => PROTOCOLS.map((protocol) => ({ model, protocol }))),
  },
  reloads: {
    name: 'ood_model_reloads_total',
    help: 'Model reloads (SIGHUP or POST /admin/reload), by model and outcome',
    labelNames: ['model', 'outcome'],
    zeroes: (models: string[]) => models.flatMap((model) => [{ model, outcome: 'success' }, { model, outcome: 'failure' }]),
  },
  shed: {
    name: 'ood_requests_shed_total',
    help: 'Requests answered 503 OVERLOADED by load shedding, by the bound that was passed',
    labelNames: ['reason'],
    zeroes: () => [{ reason: 'event_loop_delay' }, { reason: 'heap_used' }],
  },
} satisfies Record<string, CounterSpec>;

/** Gauges read at scrape time from each ready model's info, so they never disagree with /readyz and /models/NAME. */
const MODEL_INFO_GAUGES: [name: string, help: string, read: (info: ModelInfo) => number][] = [
  ['ood_reference_set_size', 'Points in the reference set the neighbours are searched in', (i) => i.reference_size],
  ['ood_calibration_set_size', 'Points in the calibration set the conformal p-values are computed from', (i) => i.calibration_size],
  // The conformal bound as a series, so an alert can compare the flagged share with it.
  ['ood_significance', 'Significance level of the outlier decision: the bound on the share of in-distribution inputs flagged', (i) => i.significance],
];

type Histograms = { [K in keyof typeof HISTOGRAMS]: Histogram<string> };
type Counters = { [K in keyof typeof COUNTERS]: Counter<string> };

function histograms(registry: Registry): Histograms {
  return Object.fromEntries(
    Object.entries(HISTOGRAMS).map(([key, spec]: [string, HistogramSpec]) => [key, new Histogram({ ...spec, registers: [registry] })]),
  ) as Histograms;
}

function counters(registry: Registry, models: string[]): Counters {
  const made = Object.fromEntries(
    Object.entries(COUNTERS).map(([key, spec]: [string, CounterSpec]) => [key, new Counter({ name: spec.name, help: spec.help, labelNames: spec.labelNames, registers: [registry] })]),
  ) as Counters;
  zeroSeries(made, models);
  return made;
}

function zeroSeries(made: Counters, models: string[]): void {
  for (const [key, spec] of Object.entries(COUNTERS) as [keyof Counters, CounterSpec][]) for (const labels of spec.zeroes(models)) made[key].inc(labels, 0);
}

/** Every series labelled with this model, in the counters and the histograms. */
function removeSeries(made: Counters, h: Histograms, model: string, layers: readonly string[]): void {
  for (const [key, spec] of Object.entries(COUNTERS) as [keyof Counters, CounterSpec][]) {
    for (const labels of spec.zeroes([model])) if (labels.model === model) made[key].remove(labels);
  }
  h.outlierScore.remove({ model });
  h.batchRows.remove({ model });
  for (const layer of layers) h.layerSearchDuration.remove({ model, layer });
}

/** The gauges that describe the loaded models and the process, read at scrape time. */
function stateGauges(registry: Registry, app: FastifyInstance): void {
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
  const readyInfos = () =>
    app
      .servedModels()
      .map((model) => app.readyDetector(model)?.info)
      .filter((info): info is ModelInfo => info !== undefined);
  for (const [name, help, read] of MODEL_INFO_GAUGES) perModelGauge(registry, name, help, () => readyInfos().map((info) => [info.name, read(info)]));
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
}

export default fp(
  async (app) => {
    const registry = new Registry();
    // Standard names (no prefix) so the usual Node.js dashboards work unchanged.
    collectDefaultMetrics({ register: registry });
    // These three are gauges named like counters, which `promtool check metrics` rejects; each is
    // only the sum of its by-type sibling without the suffix (nodejs_active_handles etc.), which stays.
    for (const name of LINT_FAILING_DEFAULT_METRICS) registry.removeSingleMetric(name);

    const h = histograms(registry);
    const c = counters(registry, app.servedModels());
    stateGauges(registry, app);
    // Unloaded models: a request still finishing on one must not bring its series back.
    const removed = new Set<string>();

    const metrics: OodMetrics = {
      registry,
      recordShed: (reason) => c.shed.inc({ reason }),
      recordReload: (outcome, model) => c.reloads.inc({ model, outcome }),
      recordGrpcCall: (method, code, seconds) => h.grpcDuration.observe({ method, code }, seconds),
      addModel: (model) => {
        removed.delete(model);
        zeroSeries(c, [model]);
      },
      removeModel: (model, layers) => {
        removed.add(model);
        removeSeries(c, h, model, layers);
      },
      recordPrediction({ predictions: scored, phases, batchRows: rows }, model, protocol) {
        if (removed.has(model)) return;
        c.inferenceRequests.inc({ model, protocol });
        h.batchRows.observe({ model }, rows ?? scored.length);
        let outliers = 0;
        for (const prediction of scored) {
          if (prediction.is_outlier) outliers++;
          h.outlierScore.observe({ model }, prediction.outlier_score);
        }
        c.predictions.inc({ model, outcome: 'outlier' }, outliers);
        c.predictions.inc({ model, outcome: 'inlier' }, scored.length - outliers);
        // A request batched with others is charged its rows' part of the batch's searches, so the sums stay true.
        const share = rows ? scored.length / rows : 1;
        for (const [layer, seconds] of Object.entries(searchSecondsByLayer(phases, share))) h.layerSearchDuration.observe({ model, layer }, seconds);
      },
    };
    app.decorate('metrics', metrics);

    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
      h.requestDuration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    });

    app.addHook('onClose', async () => {
      registry.clear();
    });
  },
  { name: 'ood-metrics', fastify: '5.x', dependencies: ['ood-detector'] },
);
