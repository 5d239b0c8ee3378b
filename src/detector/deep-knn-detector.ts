import type { MahalanobisModel } from '../baselines/mahalanobis.js';
import { OodError } from '../errors.js';
import { yieldToEventLoop } from '../event-loop.js';
import type { Matrix } from '../math/matrix.js';
import type { NeighborIndex } from '../index/neighbor-index.js';
import type { EmbeddingModel } from '../model/embedding.js';
import type { Calibrator } from './calibration.js';
import { densityScores, evidenceFor, searchLayers } from './search.js';
import type { Detector, ModelInfo, Prediction, PredictOptions, PredictResult } from './types.js';

/** Rows scored between pauses for the event loop: about 50 ms of work on the default model. */
const PREDICT_SLICE_ROWS = 32;

export interface DeepKnnParts {
  info: ModelInfo;
  embedder: EmbeddingModel;
  /** One index per layer in info.layers order, over L2-normalised reference activations. */
  indexes: NeighborIndex[];
  referenceLabels: Int32Array;
  /** One Mahalanobis fit per layer in info.layers order, on raw reference activations. */
  densityModels: MahalanobisModel[];
  calibrator: Calibrator;
}

/**
 * Inputs far outside the training data's scale (say 1e38 on a [0, 1] model) overflow float32
 * activations; nothing meaningful can be scored from them, so they are refused, not flagged.
 */
function assertFinite(m: Matrix, what: string, firstRow: number): void {
  for (let i = 0; i < m.data.length; i++) {
    if (!Number.isFinite(m.data[i])) {
      throw new OodError(
        'INVALID_INSTANCE',
        `instances[${firstRow + Math.floor(i / m.cols)}]: ${what} overflow to a non-finite value; send inputs on the scale of the training data`,
      );
    }
  }
}

export function argmax(row: ArrayLike<number>, offset: number, length: number): number {
  let best = 0;
  for (let j = 1; j < length; j++) if (row[offset + j] > row[offset + best]) best = j;
  return best;
}

/**
 * Deep kNN (Papernot & McDaniel 2018) as named steps: embed, find neighbours per layer, gather
 * evidence, then conformal p-values. Owns its indexes and disposes them.
 */
export class DeepKnnDetector implements Detector {
  readonly info: ModelInfo;
  private readonly parts: DeepKnnParts;

  constructor(parts: DeepKnnParts) {
    this.parts = parts;
    this.info = parts.info;
  }

  /**
   * A large batch is scored a slice at a time with a pause for the event loop in between, so a
   * full batch (about 0.4 s on 2 cores) never holds up /healthz, /metrics or other requests.
   */
  async predict(inputs: Float32Array, rows: number, options: PredictOptions = {}): Promise<PredictResult> {
    const cols = inputs.length / rows;
    const predictions: Prediction[] = [];
    const searchSeconds: Record<string, number> = {};
    for (let start = 0; start < rows; start += PREDICT_SLICE_ROWS) {
      if (start > 0) await yieldToEventLoop();
      const n = Math.min(PREDICT_SLICE_ROWS, rows - start);
      const slice = await this.predictSlice(inputs.subarray(start * cols, (start + n) * cols), n, start, options);
      predictions.push(...slice.predictions);
      for (const [layer, seconds] of Object.entries(slice.searchSeconds)) searchSeconds[layer] = (searchSeconds[layer] ?? 0) + seconds;
    }
    return { predictions, searchSeconds };
  }

  private async predictSlice(inputs: Float32Array, rows: number, firstRow: number, options: PredictOptions): Promise<PredictResult> {
    const { probabilities, activations } = await this.parts.embedder.embed(inputs, rows);
    assertFinite(probabilities, 'the class probabilities', firstRow);
    activations.forEach((layer, l) => assertFinite(layer, `layer ${this.info.layers[l]}`, firstRow));
    const searchSeconds: Record<string, number> = {};
    const classes = this.info.labels.length;
    const neighbors = searchLayers(this.parts.indexes, activations, this.info.k, this.info.layers, searchSeconds);
    const densities = densityScores(this.parts.densityModels, activations);
    const evidence = evidenceFor(neighbors, densities, rows, this.parts.referenceLabels, classes);
    const predictions = evidence.map((ev, i): Prediction => {
      const predicted = argmax(probabilities.data, i * classes, classes);
      const scored = this.parts.calibrator.score(ev, predicted);
      return {
        label: this.info.labels[predicted],
        class_index: predicted,
        probabilities: Array.from(probabilities.data.subarray(i * classes, (i + 1) * classes)),
        outlier_score: scored.outlierScore,
        is_outlier: scored.pValues.combined <= this.info.significance,
        credibility: scored.credibility,
        confidence: scored.confidence,
        knn_label: this.info.labels[scored.knnLabel],
        p_values: scored.pValues,
        layers: this.info.layers.map((name, l) => ({
          name,
          k: neighbors[l][i].ids.length,
          in_class_neighbors: ev.counts[l][predicted],
          nearest_distance: ev.nearestDistances[l],
          mean_knn_distance: ev.meanDistances[l],
          mahalanobis_distance: ev.densities[l],
          ...(options.includeNeighbors ? { neighbor_ids: Array.from(neighbors[l][i].ids) } : {}),
        })),
      };
    });
    return { predictions, searchSeconds };
  }

  dispose(): void {
    for (const index of this.parts.indexes) index.dispose();
    this.parts.embedder.dispose();
  }
}

