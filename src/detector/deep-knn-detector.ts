import { OodError } from '../errors.js';
import { yieldToEventLoop } from '../event-loop.js';
import { row, type Matrix } from '../math/matrix.js';
import type { EmbeddingModel } from '../model/embedding.js';
import type { Calibrator } from './calibration.js';
import { neighborsFound, type LayerScorer, type ScoredLayers } from './layer-scorer.js';
import { columnStd } from '../math/feature-deviation.js';
import { densitySignal } from './signals/density.js';
import type { Detector, ModelInfo, Prediction, PredictOptions, PredictResult, ReferenceExample, TextCodec } from './types.js';
import { epochMs, timed, type WorkPhase } from './work-phases.js';

/** Rows embedded between pauses for the event loop: about 50 ms of work on the default model. */
const PREDICT_SLICE_ROWS = 32;
/** Below this a slice is not split further for more threads: the split would cost more than it saves. */
const MIN_SLICE_ROWS = 8;

export interface DeepKnnParts {
  info: ModelInfo;
  embedder: EmbeddingModel;
  /** Searches and density scores per layer, in info.layers order; owned by the detector. */
  scorer: LayerScorer;
  /** How many slices the scorer can work on at once (its threads; 1 on the calling thread). */
  parallelism: number;
  calibrator: Calibrator;
  /** The reference inputs and labels, kept only when someone will look at them (the review). */
  references?: { x: Matrix; labels: Int32Array };
  /** A text model's tokenizer. */
  text?: TextCodec;
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
  readonly text: TextCodec | undefined;
  private readonly parts: DeepKnnParts;
  private scale: Float64Array | undefined;

  constructor(parts: DeepKnnParts) {
    this.parts = parts;
    this.info = parts.info;
    this.text = parts.text;
  }

  /**
   * A batch is embedded a slice at a time with a pause for the event loop in between, so a full
   * batch never holds up /healthz, /metrics or other requests. Each slice's searches start as
   * soon as it is embedded; with a threaded scorer they run while the next slice is embedded,
   * and a batch is cut into at least as many slices as there are threads.
   */
  async predict(inputs: Float32Array, rows: number, options: PredictOptions = {}): Promise<PredictResult> {
    const cols = inputs.length / rows;
    const sliceRows = Math.min(PREDICT_SLICE_ROWS, Math.max(MIN_SLICE_ROWS, Math.ceil(rows / this.parts.parallelism)));
    const pending: Promise<Prediction[]>[] = [];
    const phases: WorkPhase[] = [];
    try {
      for (let start = 0; start < rows; start += sliceRows) {
        if (start > 0) await yieldToEventLoop();
        const n = Math.min(sliceRows, rows - start);
        const slice = inputs.subarray(start * cols, (start + n) * cols);
        const { probabilities, activations } = await timed(phases, { name: 'embed', rows: n }, () => this.parts.embedder.embed(slice, n));
        assertFinite(probabilities, 'the class probabilities', start);
        activations.forEach((layer, l) => assertFinite(layer, `layer ${this.info.layers[l]}`, start));
        const scored = this.parts.scorer.score(activations, n, options.includeNeighbors ?? false).then((layers) => {
          phases.push(...layers.phases);
          const startMs = epochMs();
          const predictions = this.predictions(probabilities, layers);
          phases.push({ name: 'score', rows: n, startMs, endMs: epochMs() });
          return predictions;
        });
        // Settled at once too, so a slice that fails while an earlier throw is on its way out
        // is never an unhandled rejection.
        scored.catch(() => {});
        pending.push(scored);
      }
    } catch (err) {
      await Promise.allSettled(pending);
      throw err;
    }
    const predictions = (await Promise.all(pending)).flat();
    return { predictions, phases };
  }

  private predictions(probabilities: Matrix, scored: ScoredLayers): Prediction[] {
    const classes = this.info.labels.length;
    return scored.evidence.map((ev, i): Prediction => {
      const predicted = argmax(probabilities.data, i * classes, classes);
      const result = this.parts.calibrator.score(ev, predicted);
      return {
        label: this.info.labels[predicted],
        class_index: predicted,
        probabilities: Array.from(row(probabilities, i)),
        outlier_score: result.outlierScore,
        is_outlier: result.pValues.combined <= this.info.significance,
        credibility: result.credibility,
        confidence: result.confidence,
        knn_label: this.info.labels[result.knnLabel],
        p_values: result.pValues,
        layers: this.info.layers.map((name, l) => ({
          name,
          k: neighborsFound(ev, l),
          in_class_neighbors: ev.counts[l][predicted],
          nearest_distance: ev.nearestDistances[l],
          mean_knn_distance: ev.meanDistances[l],
          ...(ev.measured[densitySignal.name] ? { mahalanobis_distance: ev.measured[densitySignal.name][l] } : {}),
          ...(scored.neighborIds ? { neighbor_ids: Array.from(scored.neighborIds[i][l]) } : {}),
        })),
      };
    });
  }

  reference(id: number): ReferenceExample | undefined {
    const refs = this.parts.references;
    if (!refs || !Number.isInteger(id) || id < 0 || id >= refs.x.rows) return undefined;
    const values = Float32Array.from(row(refs.x, id));
    return { id, label: this.info.labels[refs.labels[id]], values };
  }

  featureScale(): Float64Array | undefined {
    const refs = this.parts.references;
    if (!refs) return undefined;
    this.scale ??= columnStd(refs.x);
    return this.scale;
  }

  dispose(): void {
    this.parts.scorer.dispose();
    this.parts.embedder.dispose();
  }
}

