import type { Detector, ModelInfo, PredictOptions, PredictResult, Prediction, ReferenceExample } from '../../src/detector/types.js';
import type { DetectorLease } from '../../src/lifecycle/detector-slot.js';
import type { DetectorHost } from '../../src/lifecycle/detector-host.js';

export const FAKE_INFO: ModelInfo = {
  name: 'fake',
  version: '1.2.3',
  input_shape: [4],
  input_name: 'features',
  inputs: [{ name: 'features', dtype: 'float32', shape: [4] }],
  labels: ['a', 'b'],
  layers: ['dense_1', 'dense_2'],
  k: 3,
  significance: 0.05,
  reference_size: 100,
  calibration_size: 20,
  runtime: 'tfjs',
  backend: 'cpu',
  signals: ['label', 'distance', 'density'],
};

export interface PredictCall {
  inputs: Float32Array;
  rows: number;
  options: PredictOptions | undefined;
}

/**
 * Deterministic stand-in: the label is whichever of the first two values is larger, and the
 * outlier score grows with the row's largest magnitude, so a row of 10s is an outlier and a row
 * of values in [0, 1] is not.
 */
export interface FakeDetectorOptions {
  /** Overrides the model info, e.g. a version and labels of its own for a reload test. */
  info?: Partial<ModelInfo>;
  /** Each predict waits this long, as a forward pass and search would, so requests overlap. */
  delayMs?: number;
  /** Reference examples by id (row r of the fake's neighbours is r, r + 1, r + 2), for the review. */
  references?: { label: string; values: number[] }[];
}

export class FakeDetector implements Detector {
  readonly info: ModelInfo;
  readonly calls: PredictCall[] = [];
  disposed = false;
  private readonly delayMs: number;
  private readonly references: FakeDetectorOptions['references'];

  constructor(opts: FakeDetectorOptions = {}) {
    const info = { ...FAKE_INFO, ...opts.info };
    // An override of the one input's name or shape is an override of `inputs` too.
    const inputs = opts.info?.inputs ?? [{ name: info.input_name, dtype: 'float32' as const, shape: info.input_shape }];
    this.info = { ...info, inputs };
    this.delayMs = opts.delayMs ?? 0;
    this.references = opts.references;
  }

  reference(id: number): ReferenceExample | undefined {
    const ref = this.references?.[id];
    return ref && { id, label: ref.label, values: Float32Array.from(ref.values) };
  }

  featureScale(): Float64Array | undefined {
    return this.references ? new Float64Array(this.info.input_shape.reduce((a, b) => a * b, 1)).fill(1) : undefined;
  }

  dispose(): void {
    this.disposed = true;
  }

  async predict(inputs: Float32Array, rows: number, options?: PredictOptions): Promise<PredictResult> {
    if (this.disposed) throw new Error('predict on a disposed detector');
    this.calls.push({ inputs: inputs.slice(), rows, options });
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    // A real detector would read freed weights here: the swap must wait for requests in flight.
    if (this.disposed) throw new Error('detector disposed while a request was using it');
    const width = inputs.length / rows;
    const predictions: Prediction[] = [];
    for (let row = 0; row < rows; row++) {
      const x = inputs.subarray(row * width, (row + 1) * width);
      const magnitude = Math.max(...Array.from(x, Math.abs));
      const outlierScore = Math.min(1, magnitude / 10);
      const credibility = 1 - outlierScore;
      const classIndex = x[0] >= x[1] ? 0 : 1;
      const label = this.info.labels[classIndex];
      predictions.push({
        label,
        class_index: classIndex,
        probabilities: classIndex === 0 ? [0.75, 0.25] : [0.25, 0.75],
        outlier_score: outlierScore,
        is_outlier: credibility < this.info.significance,
        credibility,
        confidence: 0.5,
        knn_label: label,
        p_values: { combined: credibility, label: credibility, distance: credibility, density: credibility },
        layers: this.info.layers.map((name) => ({
          name,
          k: this.info.k,
          in_class_neighbors: Math.round(credibility * this.info.k),
          nearest_distance: magnitude / 2,
          mean_knn_distance: magnitude,
          mahalanobis_distance: magnitude * 3,
          ...(options?.includeNeighbors ? { neighbor_ids: [row, row + 1, row + 2] } : {}),
        })),
      });
    }
    // As the real detector's: when each layer's search ran (1 ms and 2 ms, from now).
    const now = performance.timeOrigin + performance.now();
    const searched = (layer: string, ms: number) => ({ name: 'search' as const, layer, rows, startMs: now, endMs: now + ms });
    return { predictions, phases: [searched('dense_1', 1), searched('dense_2', 2)] };
  }
}

/** A host whose detector the test installs when it wants the app to become ready. */
export class FakeHost implements DetectorHost {
  current: Detector | undefined;
  failure: string | undefined;

  constructor(detector?: Detector) {
    this.current = detector;
  }

  names(): string[] {
    return [this.current?.info.name ?? FAKE_INFO.name];
  }

  detector(): Detector | undefined {
    return this.current;
  }

  acquire(): DetectorLease | undefined {
    const detector = this.current;
    return detector && { detector, release: () => {} };
  }

  lastError(): string | undefined {
    return this.failure;
  }
}
