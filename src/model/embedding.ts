import type { Matrix } from '../math/matrix.js';
import type { ModelInput } from './model-inputs.js';

export interface Embedding {
  /** rows x classes: the class probabilities. */
  probabilities: Matrix;
  /** One matrix per indexed layer, in manifest order, flattened per row. */
  activations: Matrix[];
  /** One matrix per extra layer asked of the loader (e.g. logits for energy scores). */
  extras: Matrix[];
}

/**
 * What the detector needs of a model, whatever runs it: one forward pass that yields the class
 * probabilities and every indexed layer's activations. tfjs runs synchronously on the calling
 * thread, onnxruntime on its own threads, so `embed` may return either.
 */
export interface EmbeddingModel {
  /** Values per instance: prod(input_shape). */
  readonly inputSize: number;
  /**
   * The model's inputs (tfjs input layer, ONNX graph inputs), in order, for protocol metadata
   * and decoding. `embed` takes them packed, one row per instance (model-inputs.ts).
   */
  readonly inputs: readonly ModelInput[];
  /** What runs the model, for /models and the logs (e.g. "tfjs-wasm", "onnxruntime-cpu"). */
  readonly backend: string;
  /** `inputs` is rows x inputSize, row-major: packed rows. */
  embed(inputs: Float32Array, rows: number): Embedding | Promise<Embedding>;
  /** Frees the weights; the model is unusable afterwards. */
  dispose(): void;
}
