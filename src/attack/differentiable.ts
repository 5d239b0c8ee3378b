import * as tf from '@tensorflow/tfjs';
import { OodError } from '../errors.js';
import { INPUT_LAYER, inputSize, type ModelManifest } from '../model/manifest.js';
import { RUNTIMES, runtimeNameOf } from '../model/runtimes.js';
import { parseLayer, type PoolOp } from '../model/layer-spec.js';
import { pool, poolingOf } from '../model/tfjs/tfjs-pooling.js';

/**
 * A tfjs model as the attacks see it: flat input rows in, class scores and every indexed layer's
 * activations (flattened) out, all as tensors gradients can flow through.
 */
export class Differentiable {
  private readonly probe: tf.LayersModel;
  private readonly shape: number[];
  readonly inputSize: number;
  readonly classes: number;
  /**
   * The attacks see logits, not probabilities. When a softmax is folded into the last Dense
   * layer they see probabilities, whose margins flatten as the softmax saturates: attacks on
   * such a model are weaker than they could be, so its success rates are a lower bound.
   */
  readonly logits: boolean;
  /** For each hidden layer, how it is pooled (undefined: taken whole), as the service indexes it. */
  private readonly pooling: (PoolOp | undefined)[];

  constructor(
    model: tf.LayersModel,
    private readonly manifest: ModelManifest,
  ) {
    this.inputSize = inputSize(manifest);
    this.classes = manifest.labels.length;

    const modelShape = model.inputs[0].shape.slice(1);
    this.shape = modelShape.every((d): d is number => d !== null) ? modelShape : manifest.input_shape;
    const specs = manifest.layers.filter((l) => l !== INPUT_LAYER).map(parseLayer);
    const hidden = specs.map((spec) => model.getLayer(spec.value).output as tf.SymbolicTensor);
    this.pooling = specs.map((spec, j) => (spec.pooling ? poolingOf(spec, hidden[j].shape.slice(1).map((d) => d ?? 0)) : undefined));
    // Gradients are taken of logits: through a saturated softmax (p = 1.0 in float32) the
    // cross-entropy's gradient vanishes and an attack would stall. A softmax layer of its own
    // (as this project's MLPs have) is skipped; one folded into a Dense layer cannot be.
    const outputLayer = model.getLayer(manifest.output_layer);
    const softmaxLayer = outputLayer.getClassName() === 'Activation' && (outputLayer.getConfig() as { activation?: string }).activation === 'softmax';
    this.logits = manifest.output_activation === 'softmax' || softmaxLayer;
    const output = (softmaxLayer ? outputLayer.input : outputLayer.output) as tf.SymbolicTensor;
    this.probe = tf.model({ inputs: model.inputs, outputs: [output, ...hidden] });
  }

  /** Class scores (rows x classes) and the indexed layers' activations, in manifest order. */
  forward(x: tf.Tensor2D): { scores: tf.Tensor2D; layers: tf.Tensor2D[] } {
    const rows = x.shape[0];
    const out = this.probe.apply(x.reshape([rows, ...this.shape])) as tf.Tensor | tf.Tensor[];
    const [raw, ...rest] = Array.isArray(out) ? out : [out];
    const scores = raw.reshape([rows, -1]) as tf.Tensor2D;
    const hidden = rest.map((t, j) => pool(t, this.pooling[j]).reshape([rows, -1]) as tf.Tensor2D);
    let next = 0;
    const layers = this.manifest.layers.map((l) => (l === INPUT_LAYER ? x : hidden[next++]));
    return { scores, layers };
  }

  /**
   * Mean over rows of how far the best other class trails `classes` (one-hot rows x classes):
   * max_{j != c} z_j - z_c, floored at -confidence (Carlini and Wagner's margin). Not the
   * cross-entropy: through a confident softmax its gradient underflows in float32 (p = 1.0 for
   * the true class), and FGSM's step was then no better than random signs of the same size.
   */
  margin(scores: tf.Tensor2D, oneHot: tf.Tensor2D, confidence = Infinity): tf.Scalar {
    const own = tf.sum(tf.mul(scores, oneHot), 1);
    // Other classes only: the own class is pushed far below every score.
    const others = tf.max(tf.sub(scores, tf.mul(oneHot, 1e9)), 1);
    const gap = tf.sub(others, own);
    return tf.mean(Number.isFinite(confidence) ? tf.maximum(gap, -confidence) : gap) as tf.Scalar;
  }

  /** Predicted classes of flat input rows. */
  predict(x: Float32Array, rows: number): Int32Array {
    return tf.tidy(() => {
      const { scores } = this.forward(tf.tensor2d(x, [rows, this.inputSize]));
      return Int32Array.from(scores.argMax(1).dataSync());
    });
  }
}

/** Refuses what gradients cannot be taken of, naming why. */
export function assertDifferentiable(manifest: ModelManifest, dir: string): void {
  const runtime = runtimeNameOf(manifest, dir);
  if (!RUNTIMES[runtime].capabilities.gradients) {
    throw new OodError(
      'MODEL_INVALID',
      `${dir} holds an ${runtime} model: its runtime computes no gradients, so attacks cannot be crafted against it here. ` +
        'Craft them with the framework that trained the model and evaluate them as a data set.',
    );
  }
}
