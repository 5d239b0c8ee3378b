import assert from 'node:assert/strict';
import { test } from 'node:test';
import { energyOutlierScores } from '../../src/baselines/energy.js';
import { fitKnnDistance, knnDistanceOutlierScores } from '../../src/baselines/knn-distance.js';
import { fitMahalanobis, mahalanobisOutlierScores } from '../../src/math/mahalanobis.js';
import { mspOutlierScores } from '../../src/baselines/msp.js';
import { ExactIndex } from '../../src/neighbors/exact-index.js';
import type { Matrix } from '../../src/math/matrix.js';
import { auroc } from '../../src/math/ood-metrics.js';
import { createRng, gaussian, type Rng } from '../../src/math/random.js';

const DIM = 8;
const CLASSES = 3;
const SEPARATION = 6;

// In-distribution: class c is a unit Gaussian around SEPARATION * e_c. Outliers lie far out in
// the dimensions no class mean uses, so every baseline should flag them: the features are far
// from every class, and the logits below come out flat there.
function inDistribution(rows: number, rng: Rng): { features: Matrix; labels: Int32Array } {
  const data = new Float32Array(rows * DIM);
  const labels = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    labels[i] = i % CLASSES;
    for (let j = 0; j < DIM; j++) data[i * DIM + j] = gaussian(rng) + (j === labels[i] ? SEPARATION : 0);
  }
  return { features: { data, rows, cols: DIM }, labels };
}

function outliers(rows: number, rng: Rng): Matrix {
  const data = new Float32Array(rows * DIM);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < DIM; j++) data[i * DIM + j] = gaussian(rng) + (j >= CLASSES ? 4 * gaussian(rng) : 0);
  }
  return { data, rows, cols: DIM };
}

/** Logits of the Bayes classifier for the in-distribution classes: -||x - mu_c||^2 / 2. */
function logits(features: Matrix): Matrix {
  const data = new Float64Array(features.rows * CLASSES);
  for (let i = 0; i < features.rows; i++) {
    for (let c = 0; c < CLASSES; c++) {
      let sum = 0;
      for (let j = 0; j < DIM; j++) {
        const diff = features.data[i * DIM + j] - (j === c ? SEPARATION : 0);
        sum += diff * diff;
      }
      data[i * CLASSES + c] = -sum / 2;
    }
  }
  return { data, rows: features.rows, cols: CLASSES };
}

function softmax(m: Matrix): Matrix {
  const data = new Float64Array(m.data.length);
  for (let i = 0; i < m.rows; i++) {
    const slice = m.data.subarray(i * m.cols, (i + 1) * m.cols);
    const max = Math.max(...slice);
    let sum = 0;
    for (let c = 0; c < m.cols; c++) sum += data[i * m.cols + c] = Math.exp(slice[c] - max);
    for (let c = 0; c < m.cols; c++) data[i * m.cols + c] /= sum;
  }
  return { data, rows: m.rows, cols: m.cols };
}

/** AUROC with in-distribution as positives, so the outlier scores are negated. */
function aurocOfOutlierScores(inScores: Float64Array, outScores: Float64Array): number {
  return auroc(inScores.map((s) => -s), outScores.map((s) => -s));
}

test('every baseline ranks far-away points as more outlying (AUROC > 0.95)', () => {
  const rng = createRng(42);
  const train = inDistribution(600, rng);
  const heldOut = inDistribution(300, rng).features;
  const far = outliers(300, rng);

  const mahalanobis = fitMahalanobis(train.features, train.labels, CLASSES);
  const knn = fitKnnDistance(train.features, { k: 10, index: (dim) => new ExactIndex(dim) });
  const results: Record<string, number> = {
    msp: aurocOfOutlierScores(mspOutlierScores(softmax(logits(heldOut))), mspOutlierScores(softmax(logits(far)))),
    energy: aurocOfOutlierScores(energyOutlierScores(logits(heldOut)), energyOutlierScores(logits(far))),
    mahalanobis: aurocOfOutlierScores(
      mahalanobisOutlierScores(mahalanobis, heldOut),
      mahalanobisOutlierScores(mahalanobis, far),
    ),
    knn: aurocOfOutlierScores(knnDistanceOutlierScores(knn, heldOut), knnDistanceOutlierScores(knn, far)),
  };
  knn.dispose();
  for (const [name, value] of Object.entries(results)) assert.ok(value > 0.95, `${name}: AUROC ${value}`);
});
