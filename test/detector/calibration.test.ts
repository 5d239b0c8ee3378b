import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  calibrate,
  CalibrationStateSchema,
  Calibrator,
  combinedScore,
  distanceScore,
  SIGNALS,
  type CalibrationState,
} from '../../src/detector/calibration.js';
import { labelNonconformity, logNearestDistances, type Evidence } from '../../src/detector/signals.js';
import { CalibrationScores, robustScale } from '../../src/math/conformal.js';
import { createRng, gaussian, type Rng } from '../../src/math/random.js';

const close = (actual: number, expected: number, tolerance = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `expected ${expected}, got ${actual}`);

function evidenceOf(counts: number[][], nearest: number[]): Evidence {
  return {
    counts: counts.map((c) => Int32Array.from(c)),
    nearestDistances: Float64Array.from(nearest),
    meanDistances: Float64Array.from(nearest, (d) => 2 * d),
  };
}

// k = 50 over 3 layers makes the label score fine-grained (0..150): with k = 10 over 2 layers
// its ties make the combined p-value visibly conservative (shares near 0.02 for some seeds).
const K = 50;
const CLASSES = 3;
const LAYERS = 3;

/**
 * One synthetic input: a true label, a model prediction right 90% of the time, per-layer
 * neighbour counts where each of the k neighbours carries the true label with probability
 * 0.75, and log-normal nearest distances. `shift` moves the log distances (farther inputs).
 */
function drawPoint(rng: Rng, shift = 0): { evidence: Evidence; label: number; predicted: number } {
  const label = Math.floor(rng() * CLASSES);
  const predicted = rng() < 0.9 ? label : (label + 1 + Math.floor(rng() * (CLASSES - 1))) % CLASSES;
  const counts: number[][] = [];
  const nearest: number[] = [];
  for (let l = 0; l < LAYERS; l++) {
    const c = new Array<number>(CLASSES).fill(0);
    for (let i = 0; i < K; i++) {
      const j = rng() < 0.75 ? label : (label + 1 + Math.floor(rng() * (CLASSES - 1))) % CLASSES;
      c[j]++;
    }
    counts.push(c);
    nearest.push(Math.exp(l - 1 + 0.4 * gaussian(rng) + shift));
  }
  return { evidence: evidenceOf(counts, nearest), label, predicted };
}

function drawSet(rng: Rng, n: number, shift = 0) {
  const points = Array.from({ length: n }, () => drawPoint(rng, shift));
  return {
    evidence: points.map((p) => p.evidence),
    labels: Int32Array.from(points, (p) => p.label),
    predicted: Int32Array.from(points, (p) => p.predicted),
  };
}

describe('distanceScore', () => {
  it('sums the per-layer robust z-scores of the log nearest distance', () => {
    // log(1) = 0 -> (0 - 0) / 1 = 0; log(e^2) = 2 -> (2 - 1) / 0.5 = 2; log(e^-1) -> (-1 + 3) / 4 = 0.5.
    const evidence = evidenceOf([[1], [1], [1]], [1, Math.E ** 2, Math.exp(-1)]);
    const score = distanceScore(evidence, [
      { center: 0, scale: 1 },
      { center: 1, scale: 0.5 },
      { center: -3, scale: 4 },
    ]);
    close(score, 2.5, 1e-10);
  });

  it('grows with the distance', () => {
    const scales = [{ center: 0, scale: 1 }];
    const near = distanceScore(evidenceOf([[1]], [0.5]), scales);
    const far = distanceScore(evidenceOf([[1]], [5]), scales);
    close(far - near, Math.log(10), 1e-10);
  });
});

describe('combinedScore', () => {
  it('is -log of the smaller weighted p-value', () => {
    // min(0.02 / 0.2, 0.5 / 0.8) = 0.1
    close(combinedScore(0.02, 0.5, 0.2), Math.log(10));
    // min(0.5 / 0.5, 0.01 / 0.5) = 0.02
    close(combinedScore(0.5, 0.01, 0.5), Math.log(50));
    // Both at their weights: min(1, 1) = 1 -> 0.
    close(combinedScore(0.3, 0.7, 0.3), 0);
    // Large p-values give a negative score: min(0.9 / 0.5, 0.8 / 0.5) = 1.6.
    close(combinedScore(0.9, 0.8, 0.5), -Math.log(1.6));
  });

  it('is monotone: a smaller p-value never lowers the score', () => {
    assert.ok(combinedScore(0.01, 0.5, 0.5) > combinedScore(0.1, 0.5, 0.5));
    assert.ok(combinedScore(0.5, 0.01, 0.5) > combinedScore(0.5, 0.1, 0.5));
    assert.equal(combinedScore(0.5, 0.01, 0.5), combinedScore(0.4, 0.01, 0.5));
  });
});

describe('calibrate', () => {
  const rng = createRng(21);
  const set = drawSet(rng, 41);
  // Make the model disagree with the truth on some points, so predicted and true labels differ.
  set.predicted[0] = (set.labels[0] + 1) % CLASSES;
  set.predicted[40] = (set.labels[40] + 2) % CLASSES;
  const state = calibrate(set, K, CLASSES, 0.3);

  it('cuts the calibration part in two: floor(n/2) fit, the rest held out', () => {
    assert.equal(state.k, K);
    assert.equal(state.classes, CLASSES);
    assert.equal(state.labelWeight, 0.3);
    assert.equal(state.fitLabel.length, 20);
    assert.equal(state.fitDistance.length, 20);
    assert.equal(state.heldLabel.length, 21);
    assert.equal(state.heldDistance.length, 21);
    assert.equal(state.heldCombined.length, 21);
    assert.equal(state.labelScores.length, 41);
    assert.equal(state.layerScales.length, LAYERS);
    assert.deepEqual(CalibrationStateSchema.parse(state), state);
    assert.deepEqual(CalibrationStateSchema.parse(JSON.parse(JSON.stringify(state))), state);
  });

  it('fits the layer scales on half A only', () => {
    for (let l = 0; l < LAYERS; l++) {
      const expected = robustScale(set.evidence.slice(0, 20).map((e) => logNearestDistances(e)[l]));
      assert.deepEqual(state.layerScales[l], expected);
      assert.notDeepEqual(state.layerScales[l], robustScale(set.evidence.map((e) => logNearestDistances(e)[l])));
    }
  });

  it('scores the predicted label in fit and held parts, sorted in fit', () => {
    const predictedScores = set.evidence.map((e, i) => labelNonconformity(e, set.predicted[i], K));
    assert.deepEqual(state.fitLabel, predictedScores.slice(0, 20).sort((a, b) => a - b));
    assert.deepEqual(state.heldLabel, predictedScores.slice(20));
    const distances = set.evidence.map((e) => distanceScore(e, state.layerScales));
    assert.deepEqual(state.fitDistance, distances.slice(0, 20).sort((a, b) => a - b));
    assert.deepEqual(state.heldDistance, distances.slice(20));
  });

  it('scores the true label in labelScores', () => {
    const trueScores = set.evidence.map((e, i) => labelNonconformity(e, set.labels[i], K));
    assert.deepEqual(state.labelScores, trueScores);
    // Where the model was wrong the two differ, so labelScores really uses the true labels.
    assert.notEqual(state.labelScores[0], labelNonconformity(set.evidence[0], set.predicted[0], K));
    assert.notEqual(state.labelScores[40], state.heldLabel[20]);
  });

  it('holds out combined scores computed against half A', () => {
    const fitLabel = new CalibrationScores(state.fitLabel);
    const fitDistance = new CalibrationScores(state.fitDistance);
    state.heldCombined.forEach((c, i) => {
      const expected = combinedScore(fitLabel.pValue(state.heldLabel[i]), fitDistance.pValue(state.heldDistance[i]), 0.3);
      assert.equal(c, expected);
      // p-values lie in [1/21, 1], so the score lies in [-log(1 / 0.3), -log(1 / 21 / 0.7)].
      assert.ok(c >= Math.log(0.3) - 1e-12 && c <= Math.log(21 * 0.7) + 1e-12, `combined ${c}`);
    });
  });

  it('refuses fewer than 40 points', () => {
    assert.throws(() => calibrate(drawSet(createRng(1), 39), K, CLASSES, 0.5), /at least 40 points, got 39/);
    assert.doesNotThrow(() => calibrate(drawSet(createRng(1), 40), K, CLASSES, 0.5));
  });
});

describe('Calibrator.score', () => {
  // One layer, k = 3, two classes, weight 0.5. Every p-value below is (count >= score + 1) / (n + 1).
  const state: CalibrationState = CalibrationStateSchema.parse({
    k: 3,
    classes: 2,
    labelWeight: 0.5,
    layerScales: [{ center: 0, scale: 1 }],
    fitLabel: [0, 1, 2, 3],
    fitDistance: [-1, 0, 1, 2],
    heldLabel: [0, 2, 4],
    heldDistance: [0.2, 0.4, 0.9],
    heldCombined: [-1, -0.5, 0, 0.7, 1.5],
    labelScores: [0, 0, 1, 2, 3],
  });
  const calibrator = new Calibrator(state);

  it('an ordinary input: hand-computed p-values', () => {
    // counts [2, 1]: alpha(0) = 1, alpha(1) = 2. Distance score = log(e^0.5) = 0.5.
    const scored = calibrator.score(evidenceOf([[2, 1]], [Math.exp(0.5)]), 0);
    // fitLabel >= 1: 3 of 4 -> 4/5; fitDistance >= 0.5: 2 of 4 -> 3/5.
    // combined = -log(min(0.8 / 0.5, 0.6 / 0.5)) = -log(1.2); heldCombined >= that: 3 of 5 -> 4/6.
    close(scored.pValues.combined, 4 / 6);
    close(scored.outlierScore, 1 - 4 / 6);
    // heldLabel >= 1: 2 of 3 -> 3/4; heldDistance >= 0.5: 1 of 3 -> 2/4.
    close(scored.pValues.label, 3 / 4);
    close(scored.pValues.distance, 2 / 4);
    assert.deepEqual(Object.keys(scored.pValues).sort(), ['combined', 'distance', 'label']);
    // labelScores >= 1: 3 of 5 -> 4/6 for class 0; >= 2: 2 of 5 -> 3/6 for class 1.
    close(scored.credibility, 4 / 6);
    close(scored.confidence, 1 - 3 / 6);
    assert.equal(scored.knnLabel, 0);
  });

  it('the same input scored for its less likely label', () => {
    const scored = calibrator.score(evidenceOf([[2, 1]], [Math.exp(0.5)]), 1);
    // alpha(1) = 2: fitLabel >= 2: 2 of 4 -> 3/5; combined = -log(min(1.2, 1.2)), as before.
    close(scored.pValues.combined, 4 / 6);
    // heldLabel >= 2: 2 of 3 -> 3/4.
    close(scored.pValues.label, 3 / 4);
    close(scored.credibility, 3 / 6);
    close(scored.confidence, 1 - 3 / 6);
    assert.equal(scored.knnLabel, 0);
  });

  it('a far, disputed input: small p-values', () => {
    // counts [0, 3], predicted 0: alpha = 3; distance score 3.
    const scored = calibrator.score(evidenceOf([[0, 3]], [Math.exp(3)]), 0);
    // fitLabel >= 3: 1 -> 2/5; fitDistance >= 3: 0 -> 1/5; combined = -log(min(0.8, 0.4)) = 0.916.
    // heldCombined >= 0.916: 1 of 5 -> 2/6.
    close(scored.pValues.combined, 2 / 6);
    close(scored.outlierScore, 4 / 6);
    // heldLabel >= 3: 1 of 3 -> 2/4; heldDistance >= 3: 0 -> 1/4.
    close(scored.pValues.label, 2 / 4);
    close(scored.pValues.distance, 1 / 4);
    // alpha(0) = 3 -> labelScores >= 3: 1 -> 2/6; alpha(1) = 0 -> 6/6.
    close(scored.credibility, 2 / 6);
    close(scored.confidence, 1 - 2 / 6);
    assert.equal(scored.knnLabel, 1);
  });

  it('an input nearer and more agreed on than everything gets p = 1 per signal', () => {
    const scored = calibrator.score(evidenceOf([[3, 0]], [Math.exp(-5)]), 0);
    // alpha 0: fitLabel >= 0: 4 -> 1; fitDistance >= -5: 4 -> 1; combined = -log(min(2, 2)).
    // heldCombined >= -0.693: 4 of 5 -> 5/6 (-1 is the only lower one).
    close(scored.pValues.combined, 5 / 6);
    close(scored.outlierScore, 1 / 6);
    close(scored.pValues.distance, 1);
    close(scored.pValues.label, 1);
    close(scored.credibility, 1);
    assert.equal(scored.knnLabel, 0);
  });

  it('names the two signals', () => {
    assert.deepEqual([...SIGNALS], ['label', 'distance']);
  });
});

describe('the conformal guarantee', () => {
  const rng = createRng(2024);
  const calibration = drawSet(rng, 2000);
  const calibrator = new Calibrator(calibrate(calibration, K, CLASSES, 0.5));

  const shareAtOrBelow = (set: ReturnType<typeof drawSet>, signal: string, significance: number) => {
    let flagged = 0;
    set.evidence.forEach((e, i) => {
      if (calibrator.score(e, set.predicted[i]).pValues[signal] <= significance) flagged++;
    });
    return flagged / set.evidence.length;
  };

  it('flags about 5% of exchangeable test inputs at significance 0.05', () => {
    const test = drawSet(rng, 2000);
    const share = shareAtOrBelow(test, 'combined', 0.05);
    assert.ok(share >= 0.03 && share <= 0.07, `share ${share}`);
    // The continuous distance signal alone is valid too; the discrete label one is conservative.
    const distanceShare = shareAtOrBelow(test, 'distance', 0.05);
    assert.ok(distanceShare >= 0.03 && distanceShare <= 0.07, `distance share ${distanceShare}`);
    assert.ok(shareAtOrBelow(test, 'label', 0.05) <= 0.07);
  });

  it('flags most inputs whose distances are shifted farther out', () => {
    const shifted = drawSet(rng, 2000, 1.5);
    const share = shareAtOrBelow(shifted, 'combined', 0.05);
    assert.ok(share > 0.5, `share ${share}`);
  });
});
