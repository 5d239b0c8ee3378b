import * as tf from '@tensorflow/tfjs';
import { OodError } from '../../errors.js';
import { mapLayout, pooledShape, type LayerSpec, type Pooling } from '../layer-spec.js';

/**
 * Pooled layers of a tfjs model, as tf ops on a layer's output (batch first): what the ONNX
 * runtime adds to its graph, done here after the forward pass, and differentiable, so attacks
 * see the same pooled activations the service indexes.
 */

/** A pooling as tf ops: a mean over some axes (batch first), or the first token. */
export type Pool = { mean: number[] } | 'first';

/**
 * The pooling of a layer, from its per-instance shape. A tfjs model has one float input and so no
 * attention mask: a sequence is averaged over all its steps.
 */
export function poolingOf(spec: LayerSpec, shape: number[]): Pool {
  const pooled = pooledShape(shape, spec.pooling as Pooling, 'hwc');
  if ('problem' in pooled) throw new OodError('MODEL_INVALID', `layer "${spec.name}": "${spec.value}" ${pooled.problem}`);
  if (spec.pooling === 'first') return 'first';
  if (shape.length === 2) return { mean: [1] };
  return { mean: mapLayout(shape, 'hwc') === 'hwc' ? [1, 2] : [2, 3] };
}

/** Inside the caller's tidy. */
export function pool(t: tf.Tensor, how: Pool | undefined): tf.Tensor {
  if (how === undefined) return t;
  if (how === 'first') return tf.gather(t, 0, 1);
  return tf.mean(t, how.mean);
}
