import * as tf from '@tensorflow/tfjs';
import type { DistanceKind } from '../math/snnl.js';

/**
 * Logits below this are clamped. Only an absurd d / T reaches it, and without the clamp float32
 * would round such a logit to -Infinity, and -Infinity - -Infinity is NaN.
 */
const LOGIT_FLOOR = -1e30;
/** Floor on a row's squared norm for cosine distance: keeps 1/|x| and its gradient finite. */
const SQUARED_NORM_FLOOR = 1e-12;

/**
 * Soft nearest neighbour loss as a differentiable tfjs op (docs/design.md §1), the training-time twin
 * of `snnl` in src/math/snnl.ts and equal to it up to float32 rounding.
 *
 * It works in log space: each row's masked log-sum-exp is shifted by the largest unmasked logit,
 * and the diagonal and other classes are removed with masks. Masked entries get -Infinity before
 * exp, which gives exactly 0 and routes no gradient to them. An anchor without a classmate in the
 * batch is skipped (excluded from the mean, zero gradient); if none qualifies the loss is 0.
 *
 * `temperature` may be a tf.Scalar variable: the reference implementation takes a gradient step
 * on it every batch to keep SNNL near its minimum over T.
 */
export function snnlLoss(
  x: tf.Tensor2D,
  labels: tf.Tensor1D,
  temperature: tf.Scalar | number,
  distance: DistanceKind = 'euclidean',
): tf.Scalar {
  return tf.tidy(() => {
    const size = x.shape[0];
    const distances = distance === 'cosine' ? cosineDistances(x) : squaredEuclideanDistances(x);
    const logits = tf.maximum(tf.neg(tf.div(distances, temperature)), LOGIT_FLOOR);

    const index = tf.range(0, size, 1, 'int32');
    const offDiagonal = tf.notEqual(index.expandDims(1), index.expandDims(0));
    const sameClass = tf.logicalAnd(tf.equal(labels.expandDims(1), labels.expandDims(0)), offDiagonal);
    const hasClassmate = tf.any(sameClass, 1);

    const logSame = maskedLogSumExp(logits, sameClass);
    const logAll = maskedLogSumExp(logits, offDiagonal);
    const terms = tf.where(hasClassmate, tf.sub(logSame, logAll), tf.zerosLike(logAll));
    const anchors = tf.maximum(tf.sum(tf.cast(hasClassmate, 'float32')), 1);
    // 0 - sum rather than neg(sum): a batch with nothing to measure reports 0, not -0.
    return tf.div(tf.sub(0, tf.sum(terms)), anchors) as tf.Scalar;
  });
}

/**
 * Centring first costs nothing (distances ignore translation) and spares |a|^2 + |b|^2 - 2ab
 * most of its float32 cancellation when the activations sit far from the origin.
 */
function squaredEuclideanDistances(x: tf.Tensor2D): tf.Tensor {
  const centred = tf.sub(x, tf.mean(x, 0, true));
  const squaredNorms = tf.sum(tf.square(centred), 1, true);
  const gram = tf.matMul(centred, centred, false, true);
  return tf.relu(tf.sub(tf.add(squaredNorms, tf.transpose(squaredNorms)), tf.mul(gram, 2)));
}

/** A zero row stays zero after scaling, so its cosine is 0 and its distance 1, as in math/snnl. */
function cosineDistances(x: tf.Tensor2D): tf.Tensor {
  const inverseNorms = tf.rsqrt(tf.maximum(tf.sum(tf.square(x), 1, true), SQUARED_NORM_FLOOR));
  const unit = tf.mul(x, inverseNorms);
  return tf.clipByValue(tf.sub(1, tf.matMul(unit, unit, false, true)), 0, 2);
}

/**
 * log sum_{j: mask_ij} exp(logits_ij) per row. A row with nothing unmasked gives 0 (its anchor
 * is skipped by the caller); the guards keep that row's value and gradient finite, never NaN.
 */
function maskedLogSumExp(logits: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  const masked = tf.where(mask, logits, tf.fill(logits.shape, -Infinity));
  const hasAny = tf.any(mask, 1);
  const rowMax = tf.where(hasAny, tf.max(masked, 1), tf.zeros([logits.shape[0]]));
  const sums = tf.sum(tf.exp(tf.sub(masked, tf.expandDims(rowMax, 1))), 1);
  return tf.add(tf.log(tf.where(hasAny, sums, tf.onesLike(sums))), rowMax);
}
