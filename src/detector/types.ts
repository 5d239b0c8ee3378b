import { z } from 'zod';
import { ImagePreprocessingSchema } from '../model/image-input.js';
import { ModelInputSchema } from '../model/model-inputs.js';
import type { TextCodec } from '../model/text/text-codec.js';
import type { WorkPhase } from './work-phases.js';

/**
 * The shapes the detector hands to its transports. They are zod schemas so the HTTP layer can
 * serialise and document them without restating them: one source of truth.
 */
export const LayerEvidenceSchema = z.object({
  name: z.string(),
  k: z.number().int(),
  in_class_neighbors: z.number().int(),
  /** Squared-L2 distance to the nearest reference point (L2-normalised activations). */
  nearest_distance: z.number(),
  /** Mean squared-L2 distance to the k nearest reference points. */
  mean_knn_distance: z.number(),
  /** Squared Mahalanobis distance to the nearest class mean (raw activations, tied covariance); with the density signal. */
  mahalanobis_distance: z.number().optional(),
  neighbor_ids: z.array(z.number().int()).optional(),
});

export const PredictionSchema = z.object({
  label: z.string(),
  class_index: z.number().int(),
  probabilities: z.array(z.number()),
  outlier_score: z.number(),
  is_outlier: z.boolean(),
  credibility: z.number(),
  confidence: z.number(),
  knn_label: z.string(),
  /** One conformal p-value per signal, plus `combined`, the one the outlier decision uses. */
  p_values: z.record(z.string(), z.number()),
  layers: z.array(LayerEvidenceSchema),
});

export const ModelInfoSchema = z.object({
  name: z.string(),
  version: z.string(),
  input_shape: z.array(z.number().int()),
  /** The model's own name for its (first) input, which protocol clients may key instances by. */
  input_name: z.string(),
  /**
   * Every input the model takes, in order. An instance is all of them; the service carries it
   * as one row of prod(input_shape) values, each input's values in turn.
   */
  inputs: z.array(ModelInputSchema),
  labels: z.array(z.string()),
  layers: z.array(z.string()),
  k: z.number().int(),
  significance: z.number(),
  reference_size: z.number().int(),
  calibration_size: z.number().int(),
  /** What runs the model: tfjs, onnx (onnxruntime), or features (a model server, elsewhere). */
  runtime: z.string(),
  /** The runtime's backend: the tfjs backend, onnxruntime's execution provider, or none. */
  backend: z.string(),
  signals: z.array(z.string()),
  /** Present for text models: clients may send strings, tokenized to max_length tokens; longer texts are refused. */
  text: z.object({ max_length: z.number().int(), max_chars: z.number().int() }).optional(),
  /** Present for image models: how a `{"b64": ...}` instance becomes input. */
  preprocessing: ImagePreprocessingSchema.optional(),
});

export type LayerEvidence = z.infer<typeof LayerEvidenceSchema>;
export type Prediction = z.infer<typeof PredictionSchema>;
export type ModelInfo = z.infer<typeof ModelInfoSchema>;

export interface PredictOptions {
  includeNeighbors?: boolean;
}

export interface PredictResult {
  predictions: Prediction[];
  /** Rows scored together with these, when requests were batched together (they included). */
  batchRows?: number;
  /**
   * When each part of the work ran, shared by the requests of one batch: the trace's spans, and
   * each layer's search time for the metrics (work-phases.ts, searchSecondsByLayer).
   */
  phases: WorkPhase[];
}

/** One training example the neighbours are searched among, by its id in the graphs. */
export interface ReferenceExample {
  id: number;
  label: string;
  /** The example as the model takes it: prod(input_shape) values. */
  values: Float32Array;
}

export type { TextCodec, WorkPhase };

/** What a transport needs from a loaded detector; it knows nothing of HTTP. */
export interface Detector {
  readonly info: ModelInfo;
  /** `inputs` is row-major, rows x prod(input_shape), already validated as finite. */
  predict(inputs: Float32Array, rows: number, options?: PredictOptions): Promise<PredictResult>;
  /** Frees weights and graphs; the detector is unusable afterwards. */
  dispose?(): void;
  /** A text model's tokenizer: present when clients may send strings. */
  readonly text?: TextCodec;
  /**
   * The reference example behind a neighbour id, when the detector keeps its reference inputs
   * (only for the review of flagged inputs: they cost memory); undefined for an unknown id.
   */
  reference?(id: number): ReferenceExample | undefined;
  /** Each input feature's spread over the reference set, when the detector keeps its inputs. */
  featureScale?(): Float64Array | undefined;
}
