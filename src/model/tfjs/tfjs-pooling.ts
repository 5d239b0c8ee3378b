import * as tf from '@tensorflow/tfjs';
import { OodError } from '../../errors.js';
import { poolOp, type LayerSpec, type PoolOp } from '../layer-spec.js';

/**
 * Pooled layers of a tfjs model, as tf ops on a layer's output (batch first): what the ONNX
 * runtime adds to its graph, done here after the forward pass, and differentiable, so attacks
 * see the same pooled activations the service indexes.
 */

/**
 * The pooling of a layer, from its per-instance shape; tfjs lays maps out channels last. A tfjs
 * model has one float input and so no attention mask: a sequence is averaged over all its steps.
 */
export function poolingOf(spec: LayerSpec, shape: number[]): PoolOp {
  const op = poolOp(spec, shape, 'hwc');
  if (typeof op === 'object' && 'problem' in op) throw new OodError('MODEL_INVALID', op.problem);
  return op;
}

/** Inside the caller's tidy. */
export function pool(t: tf.Tensor, how: PoolOp | undefined): tf.Tensor {
  if (how === undefined) return t;
  if (how === 'first') return tf.gather(t, 0, 1);
  return tf.mean(t, how.mean);
}
