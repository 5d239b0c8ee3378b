import type { Detector, ModelInfo, PredictOptions, PredictResult, Prediction } from '../../src/detector/types.js';
import type { DetectorHost } from '../../src/http/detector-host.js';

export const FAKE_INFO: ModelInfo = {
  name: 'fake',
  version: '1.2.3',
  input_shape: [4],
  labels: ['a', 'b'],
  layers: ['dense_1', 'dense_2'],
  k: 3,
  significance: 0.05,
  reference_size: 100,
  calibration_size: 20,
  backend: 'cpu',
  signals: ['dense_1', 'dense_2', 'combined'],
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
export class FakeDetector implements Detector {
  readonly info: ModelInfo = FAKE_INFO;
  readonly calls: PredictCall[] = [];

  async predict(inputs: Float32Array, rows: number, options?: PredictOptions): Promise<PredictResult> {
    this.calls.push({ inputs: inputs.slice(), rows, options });
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
        p_values: { dense_1: credibility, dense_2: credibility, combined: credibility },
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
    return { predictions, searchSeconds: { dense_1: 0.001, dense_2: 0.002 } };
  }
}

/** A host whose detector the test installs when it wants the app to become ready. */
export class FakeHost implements DetectorHost {
  current: Detector | undefined;
  failure: string | undefined;

  constructor(detector?: Detector) {
    this.current = detector;
  }

  detector(): Detector | undefined {
    return this.current;
  }

  lastError(): string | undefined {
    return this.failure;
  }
}
