import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { row, rowRange, type Matrix } from '../math/matrix.js';
import { createRng, permutation } from '../math/random.js';
import { buildMlp, hiddenLayerName, LOGITS_LAYER } from './mlp.js';
import { snnlLoss } from './snnl-loss.js';

export const TrainOptionsSchema = z.object({
  hidden: z.array(z.number().int().positive()).min(1).default([256, 128, 64]),
  epochs: z.number().int().positive().default(20),
  batchSize: z.number().int().positive().default(128),
  learningRate: z.number().positive().default(1e-3),
  seed: z.number().int().default(1),
  /** Weight of the SNNL term; negative maximises entanglement (the paper uses -10). 0 disables it. */
  snnlFactor: z.number().default(0),
  /** Initial temperature T0; the reference code starts at 100. */
  snnlTemperature: z.number().positive().default(100),
  /** Step an inverse temperature towards lower SNNL each batch (reference code) or keep T0 fixed. */
  snnlLearnTemperature: z.boolean().default(true),
  snnlDistance: z.enum(['euclidean', 'cosine']).default('euclidean'),
});
export type TrainOptions = z.infer<typeof TrainOptionsSchema>;

export interface LabeledMatrix {
  x: Matrix;
  labels: Int32Array;
}

export interface EpochReport {
  epoch: number;
  loss: number;
  crossEntropy: number;
  snnl: number[];
  temperatures: number[];
  testAccuracy: number;
  seconds: number;
}

export interface TrainCallbacks {
  onBatch?: (epoch: number, batch: number, batches: number) => void;
  onEpoch?: (report: EpochReport, model: tf.LayersModel) => void;
}

/** The step size of the inverse-temperature update, as in the reference implementation. */
const TEMPERATURE_STEP = 0.1;

export function accuracy(model: tf.LayersModel, data: LabeledMatrix, chunkRows = 2048): number {
  let correct = 0;
  for (let start = 0; start < data.x.rows; start += chunkRows) {
    const n = Math.min(chunkRows, data.x.rows - start);
    const predicted = tf.tidy(() => {
      const x = tf.tensor2d(Float32Array.from(rowRange(data.x, start, n).data), [
        n,
        data.x.cols,
      ]);
      return (model.predict(x) as tf.Tensor).argMax(-1).dataSync();
    });
    for (let i = 0; i < n; i++) if (predicted[i] === data.labels[start + i]) correct++;
  }
  return correct / data.x.rows;
}

function batchTensors(data: LabeledMatrix, order: Int32Array, start: number, size: number) {
  const cols = data.x.cols;
  const xs = new Float32Array(size * cols);
  const ys = new Int32Array(size);
  for (let i = 0; i < size; i++) {
    const src = order[start + i];
    xs.set(row(data.x, src), i * cols);
    ys[i] = data.labels[src];
  }
  return { x: tf.tensor2d(xs, [size, cols]), y: tf.tensor1d(ys, 'int32') };
}

/**
 * Cross-entropy plus factor * sum over hidden layers of SNNL(h_l, y, T_l) (docs/design.md §1). The
 * weights follow the total loss; each layer's inverse temperature t_l (T_l = T0 / t_l) takes its
 * own gradient step towards lower SNNL first, as the reference implementation does.
 */
export function trainClassifier(
  train: LabeledMatrix,
  test: LabeledMatrix,
  classes: number,
  options: TrainOptions,
  callbacks: TrainCallbacks = {},
): tf.LayersModel {
  const model = buildMlp(train.x.cols, options.hidden, classes, options.seed);
  const hiddenNames = options.hidden.map((_, i) => hiddenLayerName(i));
  const trainer = tf.model({
    inputs: model.inputs,
    outputs: [LOGITS_LAYER, ...hiddenNames].map((n) => model.getLayer(n).output as tf.SymbolicTensor),
  });
  const optimizer = tf.train.adam(options.learningRate);
  const inverseTemps = hiddenNames.map(() => tf.tidy(() => tf.variable(tf.scalar(1), false)));
  const useSnnl = options.snnlFactor !== 0;
  const rng = createRng(options.seed);
  const batches = Math.ceil(train.x.rows / options.batchSize);

  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const started = performance.now();
    const order = permutation(train.x.rows, rng);
    let lossSum = 0;
    let ceSum = 0;
    const snnlSum = hiddenNames.map(() => 0);
    for (let b = 0; b < batches; b++) {
      const start = b * options.batchSize;
      const size = Math.min(options.batchSize, train.x.rows - start);
      const { x, y } = batchTensors(train, order, start, size);
      if (useSnnl && options.snnlLearnTemperature) stepTemperatures(trainer, x, y, inverseTemps, options);
      const parts = tf.tidy(() => {
        let terms: tf.Scalar[] = [];
        const cost = optimizer.minimize(() => {
          const outs = trainer.apply(x, { training: true }) as tf.Tensor[];
          const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(y, classes), outs[0]) as tf.Scalar;
          terms = useSnnl
            ? outs.slice(1).map((h, l) =>
                snnlLoss(h as tf.Tensor2D, y, tf.div(options.snnlTemperature, inverseTemps[l]) as tf.Scalar, options.snnlDistance),
              )
            : [];
          const total = terms.reduce<tf.Scalar>((acc, t) => acc.add(t.mul(options.snnlFactor)), ce);
          terms = [ce, ...terms].map((t) => tf.keep(t));
          return total;
        }, true) as tf.Scalar;
        return [cost, ...terms].map((t) => tf.keep(t));
      });
      const values = parts.map((t) => t.dataSync()[0]);
      tf.dispose([x, y, ...parts]);
      lossSum += values[0] * size;
      ceSum += values[1] * size;
      values.slice(2).forEach((v, l) => (snnlSum[l] += v * size));
      callbacks.onBatch?.(epoch, b + 1, batches);
    }
    const report: EpochReport = {
      epoch,
      loss: lossSum / train.x.rows,
      crossEntropy: ceSum / train.x.rows,
      snnl: useSnnl ? snnlSum.map((s) => s / train.x.rows) : [],
      temperatures: inverseTemps.map((t) => options.snnlTemperature / t.dataSync()[0]),
      testAccuracy: accuracy(model, test),
      seconds: (performance.now() - started) / 1000,
    };
    callbacks.onEpoch?.(report, model);
  }
  tf.dispose(inverseTemps);
  optimizer.dispose();
  return model;
}

function stepTemperatures(
  trainer: tf.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor1D,
  inverseTemps: tf.Variable[],
  options: TrainOptions,
): void {
  tf.tidy(() => {
    const hidden = (trainer.predict(x) as tf.Tensor[]).slice(1);
    hidden.forEach((h, l) => {
      const t = inverseTemps[l];
      const grad = tf.grad((inv: tf.Tensor) =>
        snnlLoss(h as tf.Tensor2D, y, tf.div(options.snnlTemperature, inv) as tf.Scalar, options.snnlDistance),
      )(t);
      // Keep t positive: a non-positive inverse temperature has no meaning.
      t.assign(tf.maximum(t.sub(grad.mul(TEMPERATURE_STEP)), 1e-3) as tf.Scalar);
    });
  });
}
