import * as tf from '@tensorflow/tfjs';
import { fitMahalanobis, inverseFactor } from '../math/mahalanobis.js';
import { concatRows, row, rowRange, selectRows, type Matrix } from '../math/matrix.js';
import { l2NormalizeRows } from '../math/normalize.js';
import type { Differentiable } from './differentiable.js';

/** Where the adaptive attack pushes each input: a class, and a real example of it to imitate. */
export interface Guides {
  /** Per attacked row, the class it is pushed to. */
  target: Int32Array;
  /** Per indexed layer, each row's guide's L2-normalised activations (rows x dim). */
  layers: Matrix[];
  /** Per indexed layer, the density signal's model as the attack needs it: whitening and whitened class means. */
  densities: Whitening[];
}

export interface Whitening {
  dim: number;
  /** L^{-1} (dim x dim), float32 for tfjs. */
  inverse: Float32Array;
  /** L^{-1} mu_c per class (classes x dim). */
  whitenedMeans: Float32Array;
}

const BATCH = 500;

/** Class scores and indexed-layer activations (raw and L2-normalised) of many rows, a batch at a time. */
function embed(net: Differentiable, x: Matrix): { scores: Matrix; raw: Matrix[]; layers: Matrix[] } {
  const scores: Float32Array[] = [];
  const layers: Float32Array[][] = [];
  const widths: number[] = [];
  for (let start = 0; start < x.rows; start += BATCH) {
    const n = Math.min(BATCH, x.rows - start);
    const out = tf.tidy(() => {
      const { scores: s, layers: ls } = net.forward(tf.tensor2d(rowRange(x, start, n).data as Float32Array, [n, net.inputSize]));
      return [s, ...ls];
    });
    const [s, ...ls] = out.map((t) => t.dataSync() as Float32Array);
    if (widths.length === 0) ls.forEach((_, l) => widths.push(out[l + 1].shape[1] as number));
    tf.dispose(out);
    scores.push(s);
    layers.push(ls);
  }
  const raw = widths.map((cols, l) => concatRows(layers.map((b) => b[l]), x.rows, cols));
  return { scores: concatRows(scores, x.rows, net.classes), raw, layers: raw.map(l2NormalizeRows) };
}

/** The most likely class other than the true one: the cheapest class to move an input into. */
function runnerUp(scores: Matrix, labels: Int32Array): Int32Array {
  return Int32Array.from({ length: scores.rows }, (_, i) => {
    const s = row(scores, i);
    let best = -1;
    for (let j = 0; j < s.length; j++) if (j !== labels[i] && (best < 0 || s[j] > s[best])) best = j;
    return best;
  });
}

/**
 * For each input: the runner-up class as the target, and as its guide the reference example of
 * that class nearest to the input in the deepest indexed layer (on the unit sphere, as the
 * index compares them). The guide's activations in every indexed layer are what the attack
 * then pulls the input's towards.
 */
export function chooseGuides(net: Differentiable, x: Matrix, labels: Int32Array, reference: { x: Matrix; labels: Int32Array } | undefined): Guides {
  if (!reference) throw new Error('the adaptive attack needs the reference examples its guides are taken from');
  const inputs = embed(net, x);
  const target = runnerUp(inputs.scores, labels);
  const refs = embed(net, reference.x);
  const deepest = inputs.layers.length - 1;
  const guide = new Int32Array(x.rows);
  for (let i = 0; i < x.rows; i++) {
    const a = row(inputs.layers[deepest], i);
    let best = -1;
    let bestDot = -Infinity;
    for (let r = 0; r < reference.x.rows; r++) {
      if (reference.labels[r] !== target[i]) continue;
      const b = row(refs.layers[deepest], r);
      let dot = 0;
      for (let j = 0; j < a.length; j++) dot += a[j] * b[j];
      if (dot > bestDot) {
        bestDot = dot;
        best = r;
      }
    }
    if (best < 0) throw new Error(`the reference set has no example of class ${target[i]} to guide the attack`);
    guide[i] = best;
  }
  // The density signal's own fit (tied covariance, default ridge) on the raw reference activations.
  const densities = refs.raw.map((acts): Whitening => {
    const model = fitMahalanobis(acts, reference.labels, net.classes);
    return { dim: model.dim, inverse: Float32Array.from(inverseFactor(model)), whitenedMeans: Float32Array.from(model.whitenedMeans) };
  });
  return { target, layers: refs.layers.map((m) => selectRows(m, guide)), densities };
}
