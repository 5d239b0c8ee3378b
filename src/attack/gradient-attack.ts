import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { rowRange, selectRows, type Matrix } from '../math/matrix.js';
import type { Differentiable } from './differentiable.js';
import { chooseGuides, type Guides } from './guides.js';

export const ATTACK_METHODS = ['fgsm', 'pgd', 'adaptive'] as const;
export const NORMS = ['linf', 'l2'] as const;

/** Steps when none are given: FGSM is one step; PGD as in Madry et al.; the adaptive attack more. */
export const DEFAULT_STEPS = { fgsm: 1, pgd: 10, adaptive: 40 } as const;

/** One attack, as the CLI takes it, the evaluation lists it, and an attack set records it. */
export const AttackSpecSchema = z
  .object({
    method: z.enum(ATTACK_METHODS),
    /** The perturbation budget, in the input's own units (pixels in [0, 1] for the shipped models). */
    eps: z.number().positive(),
    norm: z.enum(NORMS).default('linf'),
    steps: z.number().int().positive().optional(),
  })
  .transform((s) => ({ ...s, steps: s.method === 'fgsm' ? 1 : (s.steps ?? DEFAULT_STEPS[s.method]) }));
export type AttackSpec = z.output<typeof AttackSpecSchema>;
export type AttackSpecInput = z.input<typeof AttackSpecSchema>;

export const attackName = (s: AttackSpec) => `${s.method}${s.method === 'fgsm' ? '' : `${s.steps}`}-${s.norm}-eps${s.eps}`;

export interface AttackOptions {
  /** The input domain: every adversarial input stays inside it. */
  clip: [number, number];
  seed: number;
  /** The adaptive attack's guides come from these: the reference (training) examples. */
  reference?: { x: Matrix; labels: Int32Array };
  /** Rows per batch of gradient work. */
  batchRows?: number;
}

export interface AttackResult {
  spec: AttackSpec;
  /** Rows of the attacked matrix that were attacked: the ones the model classified correctly. */
  source: Int32Array;
  labels: Int32Array;
  /** source.length x inputSize. */
  adversarial: Float32Array;
  /** The model's class for each adversarial input. */
  predicted: Int32Array;
  /** Share of the attacked inputs whose class the attack changed. */
  successRate: number;
}

/** Per row, x + alpha * direction, where direction is the gradient's sign (linf) or its unit vector (l2). */
function ascend(x: tf.Tensor2D, gradient: tf.Tensor2D, alpha: number, norm: AttackSpec['norm']): tf.Tensor2D {
  if (norm === 'linf') return tf.add(x, tf.mul(tf.sign(gradient), alpha));
  const length = tf.add(tf.norm(gradient, 'euclidean', 1, true), 1e-12);
  return tf.add(x, tf.mul(tf.div(gradient, length), alpha));
}

/** Back into the eps-ball around x0, then into the input domain. */
function project(x: tf.Tensor2D, x0: tf.Tensor2D, spec: AttackSpec, clip: [number, number]): tf.Tensor2D {
  let delta = tf.sub(x, x0);
  if (spec.norm === 'linf') {
    delta = tf.clipByValue(delta, -spec.eps, spec.eps);
  } else {
    const length = tf.norm(delta, 'euclidean', 1, true);
    delta = tf.mul(delta, tf.minimum(1, tf.div(spec.eps, tf.add(length, 1e-12))));
  }
  return tf.clipByValue(tf.add(x0, delta), clip[0], clip[1]) as tf.Tensor2D;
}

/**
 * Once the target class leads by this much in the adaptive attack, its margin stops pulling and
 * the guide alone steers: a fixed choice, not tuned to any model.
 */
const ADAPTIVE_CONFIDENCE = 1;

/**
 * What the attack climbs. FGSM and PGD raise the margin by which the best other class beats the
 * true one. The adaptive attack lowers, together, the margin by which the other classes beat a
 * target class and, in every indexed layer, two terms: the squared distance of the
 * L2-normalised activations to a guide (a real reference example of the target class), against
 * the label and distance signals; and the log squared Mahalanobis distance to the target class
 * (the density signal's own model), against the density signal. Every signal the service
 * combines is attacked at once, each term with weight 1.
 */
interface GuideTensors {
  target: tf.Tensor2D;
  layers: tf.Tensor2D[];
  /** Per layer: L^{-1} transposed, and each row's target class mean in whitened coordinates. */
  densities: { inverseT: tf.Tensor2D; targetMeans: tf.Tensor2D }[];
}

function objective(net: Differentiable, spec: AttackSpec, labels: tf.Tensor2D, guides?: GuideTensors) {
  return (input: tf.Tensor): tf.Scalar => {
    const { scores, layers } = net.forward(input as tf.Tensor2D);
    if (spec.method !== 'adaptive' || !guides) return net.margin(scores, labels);
    let loss = net.margin(scores, guides.target, ADAPTIVE_CONFIDENCE);
    layers.forEach((activations, l) => {
      const unit = tf.div(activations, tf.add(tf.norm(activations, 'euclidean', 1, true), 1e-12));
      loss = tf.add(loss, tf.mean(tf.sum(tf.square(tf.sub(unit, guides.layers[l])), 1)));
      // The log of the squared Mahalanobis distance to the target class: what the density signal sums.
      const { inverseT, targetMeans } = guides.densities[l];
      const whitened = tf.sub(tf.matMul(activations, inverseT), targetMeans);
      loss = tf.add(loss, tf.mean(tf.log(tf.add(tf.sum(tf.square(whitened), 1), 1e-12))));
    });
    return tf.neg(loss);
  };
}

function craftBatch(net: Differentiable, x: Float32Array, rows: number, labels: Int32Array, spec: AttackSpec, options: AttackOptions, guides?: Guides): Float32Array {
  return tf.tidy(() => {
    const x0 = tf.tensor2d(x, [rows, net.inputSize]);
    const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), net.classes).toFloat() as tf.Tensor2D;
    const guideTensors: GuideTensors | undefined = guides && {
      target: tf.oneHot(tf.tensor1d(guides.target, 'int32'), net.classes).toFloat() as tf.Tensor2D,
      layers: guides.layers.map((m) => tf.tensor2d(m.data as Float32Array, [m.rows, m.cols])),
      densities: guides.densities.map((d) => ({
        inverseT: tf.transpose(tf.tensor2d(d.inverse, [d.dim, d.dim])),
        targetMeans: tf.gather(tf.tensor2d(d.whitenedMeans, [net.classes, d.dim]), tf.tensor1d(guides.target, 'int32')),
      })),
    };
    const gradientOf = tf.grad(objective(net, spec, oneHot, guideTensors));
    // Madry et al.'s step for PGD; FGSM takes the whole budget in its one step.
    const alpha = spec.method === 'fgsm' ? spec.eps : (2.5 * spec.eps) / spec.steps;
    // PGD starts at a random point of the linf ball; l2 and FGSM start at the input.
    let adv = spec.method === 'pgd' && spec.norm === 'linf' ? project(tf.add(x0, tf.randomUniform(x0.shape, -spec.eps, spec.eps, 'float32', options.seed)), x0, spec, options.clip) : x0;
    for (let step = 0; step < spec.steps; step++) {
      const next = tf.tidy(() => project(ascend(adv, gradientOf(adv) as tf.Tensor2D, alpha, spec.norm), x0, spec, options.clip));
      if (adv !== x0) adv.dispose();
      adv = next;
    }
    return adv.dataSync() as Float32Array;
  });
}

/**
 * Attacks every row of `x` the model classifies correctly (an input it already gets wrong needs
 * no attack), in batches, and reports which attacks changed the class.
 */
export function runAttack(net: Differentiable, x: Matrix, labels: Int32Array, spec: AttackSpec, options: AttackOptions): AttackResult {
  const batchRows = options.batchRows ?? 250;
  const before = net.predict(x.data as Float32Array, x.rows);
  const source = Int32Array.from(Array.from(before).flatMap((p, i) => (p === labels[i] ? [i] : [])));
  const attacked = selectRows(x, source);
  const trueLabels = Int32Array.from(source, (i) => labels[i]);
  // Nothing to attack, nothing to guide: the reference set's embedding and fits would be wasted.
  const guides = spec.method === 'adaptive' && source.length > 0 ? chooseGuides(net, attacked, trueLabels, options.reference) : undefined;
  const adversarial = new Float32Array(source.length * net.inputSize);
  for (let start = 0; start < source.length; start += batchRows) {
    const n = Math.min(batchRows, source.length - start);
    const batchGuides = guides && {
      target: guides.target.subarray(start, start + n),
      layers: guides.layers.map((m) => rowRange(m, start, n)),
      densities: guides.densities,
    };
    const rows = rowRange(attacked, start, n).data as Float32Array;
    adversarial.set(craftBatch(net, rows, n, trueLabels.subarray(start, start + n), spec, { ...options, seed: options.seed + start }, batchGuides), start * net.inputSize);
  }
  const predicted = source.length > 0 ? net.predict(adversarial, source.length) : new Int32Array(0);
  let changed = 0;
  predicted.forEach((p, i) => (changed += p !== trueLabels[i] ? 1 : 0));
  return { spec, source, labels: trueLabels, adversarial, predicted, successRate: source.length > 0 ? changed / source.length : 0 };
}
