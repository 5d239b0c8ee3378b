import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  calibrate,
  calibrationMismatch,
  CalibrationStateSchema,
  Calibrator,
  combinedScore as combinedOfLists,
  signalScores,
  signalWeights,
  type CalibrationState,
} from '../../src/detector/calibration.js';
import { labelNonconformity } from '../../src/detector/signals/evidence.js';
import type { Evidence } from '../../src/detector/signals/signal.js';
import { SIGNALS } from '../../src/detector/signals/table.js';
import { CalibrationScores, robustScale } from '../../src/math/conformal.js';
import { createRng, gaussian, type Rng } from '../../src/math/random.js';

const close = (actual: number, expected: number, tolerance = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `expected ${expected}, got ${actual}`);

function evidenceOf(counts: number[][], nearest: number[], densities: number[]): Evidence {
  return {
    counts: counts.map((c) => Int32Array.from(c)),
    nearestDistances: Float64Array.from(nearest),
    meanDistances: Float64Array.from(nearest, (d) => 2 * d),
    measured: { density: Float64Array.from(densities) },
  };
}

const NAMES = SIGNALS.map((s) => s.name);
type PerSignal = Record<string, number>;
const logNearest = (e: Evidence, l: number) => Math.log(e.nearestDistances[l] + 1e-12);
const logDensity = (e: Evidence, l: number) => Math.log(e.measured.density[l] + 1e-12);

/** The table's scores of one input by signal name, given the distance and density scales. */
function scoresOf(evidence: Evidence, predicted: number, k: number, distance: unknown, density: unknown): PerSignal {
  const scores = signalScores(SIGNALS, { label: {}, distance, density }, evidence, predicted, k);
  return Object.fromEntries(NAMES.map((n, i) => [n, scores[i]]));
}

/** combinedScore with p-values and weights keyed by signal name. */
const combinedScore = (p: PerSignal, w: PerSignal) =>
  combinedOfLists(
    NAMES.map((n) => p[n]),
    NAMES.map((n) => w[n]),
  );

// k = 50 over 3 layers makes the label score fine-grained (0..150): with k = 10 over 2 layers
// its ties make the combined p-value visibly conservative (shares near 0.02 for some seeds).
const K = 50;
const CLASSES = 3;
const LAYERS = 3;

interface Shift {
  /** Added to every log nearest distance (farther neighbours). */
  distance?: number;
  /** Multiplies every squared Mahalanobis distance (farther from every class mean). */
  density?: number;
}

/**
 * One synthetic input: a true label, a model prediction right 90% of the time, per-layer
 * neighbour counts where each of the k neighbours carries the true label with probability
 * 0.75, log-normal nearest distances, and squared Mahalanobis distances drawn as chi-square
 * with 4 + 2l degrees of freedom (what a Gaussian class in 4 + 2l dimensions gives). Every
 * draw is independent of the others, so unshifted points are i.i.d. and exchangeable.
 */
function drawPoint(rng: Rng, shift: Shift = {}): { evidence: Evidence; label: number; predicted: number } {
  const label = Math.floor(rng() * CLASSES);
  const predicted = rng() < 0.9 ? label : (label + 1 + Math.floor(rng() * (CLASSES - 1))) % CLASSES;
  const counts: number[][] = [];
  const nearest: number[] = [];
  const densities: number[] = [];
  for (let l = 0; l < LAYERS; l++) {
    const c = new Array<number>(CLASSES).fill(0);
    for (let i = 0; i < K; i++) {
      const j = rng() < 0.75 ? label : (label + 1 + Math.floor(rng() * (CLASSES - 1))) % CLASSES;
      c[j]++;
    }
    counts.push(c);
    nearest.push(Math.exp(l - 1 + 0.4 * gaussian(rng) + (shift.distance ?? 0)));
    let chiSquare = 0;
    for (let d = 0; d < 4 + 2 * l; d++) chiSquare += gaussian(rng) ** 2;
    densities.push(chiSquare * (shift.density ?? 1));
  }
  return { evidence: evidenceOf(counts, nearest, densities), label, predicted };
}

function drawSet(rng: Rng, n: number, shift: Shift = {}) {
  const points = Array.from({ length: n }, () => drawPoint(rng, shift));
  return {
    evidence: points.map((p) => p.evidence),
    labels: Int32Array.from(points, (p) => p.label),
    predicted: Int32Array.from(points, (p) => p.predicted),
  };
}

describe('SIGNALS and signalWeights', () => {
  it('names the three signals, in order', () => {
    assert.deepEqual(NAMES, ['label', 'distance', 'density']);
  });

  it('gives the label its configured share and splits the rest evenly', () => {
    assert.deepEqual(signalWeights(NAMES, 0.5), { label: 0.5, distance: 0.25, density: 0.25 });
    const w = signalWeights(NAMES, 0.2);
    assert.deepEqual(Object.keys(w).sort(), ['density', 'distance', 'label']);
    assert.equal(w.label, 0.2);
    close(w.distance, 0.4);
    close(w.density, 0.4);
    assert.equal(w.distance, w.density);
    close(w.label + w.distance + w.density, 1);
  });
});

describe('signalScores', () => {
  // Three layers, two classes, k = 4.
  const evidence = evidenceOf(
    [
      [3, 1],
      [2, 2],
      [4, 0],
    ],
    [1, Math.exp(2), Math.exp(-1)],
    [Math.exp(3), 1, Math.exp(-2)],
  );
  const distanceScales = [
    { center: 0, scale: 1 },
    { center: 1, scale: 0.5 },
    { center: -3, scale: 4 },
  ];
  const densityScales = [
    { center: 1, scale: 2 },
    { center: -1, scale: 0.25 },
    { center: 0, scale: 1 },
  ];

  it('label: sum over layers of k minus the neighbours with the label', () => {
    // Label 0: (4 - 3) + (4 - 2) + (4 - 4) = 3; label 1: 3 + 2 + 4 = 9.
    assert.equal(scoresOf(evidence, 0, 4, distanceScales, densityScales).label, 3);
    assert.equal(scoresOf(evidence, 1, 4, distanceScales, densityScales).label, 9);
  });

  it('distance: sum of the robust z-scores of the log nearest distances', () => {
    // log 1 = 0 -> (0 - 0) / 1 = 0; log e^2 = 2 -> (2 - 1) / 0.5 = 2; log e^-1 -> (-1 + 3) / 4 = 0.5.
    close(scoresOf(evidence, 0, 4, distanceScales, densityScales).distance, 2.5, 1e-10);
  });

  it('density: sum of the robust z-scores of the log Mahalanobis distances, with its own scales', () => {
    // log e^3 = 3 -> (3 - 1) / 2 = 1; log 1 = 0 -> (0 + 1) / 0.25 = 4; log e^-2 -> (-2 - 0) / 1 = -2.
    close(scoresOf(evidence, 0, 4, distanceScales, densityScales).density, 3, 1e-10);
    // Swapping the scale sets changes both sums: the signals do not share scales.
    const swapped = scoresOf(evidence, 0, 4, densityScales, distanceScales);
    // distance with density scales: (0 - 1) / 2 + (2 + 1) / 0.25 + (-1 - 0) / 1 = 10.5.
    close(swapped.distance, 10.5, 1e-10);
    // density with distance scales: (3 - 0) / 1 + (0 - 1) / 0.5 + (-2 + 3) / 4 = 1.25.
    close(swapped.density, 1.25, 1e-10);
  });

  it('each score moves only with its own evidence', () => {
    const base = scoresOf(evidence, 0, 4, distanceScales, densityScales);
    const fartherMahalanobis = evidenceOf(
      [
        [3, 1],
        [2, 2],
        [4, 0],
      ],
      [1, Math.exp(2), Math.exp(-1)],
      [Math.exp(3) * 10, 1, Math.exp(-2)],
    );
    const moved = scoresOf(fartherMahalanobis, 0, 4, distanceScales, densityScales);
    assert.equal(moved.label, base.label);
    assert.equal(moved.distance, base.distance);
    // Ten times the distance in layer 0 adds log(10) / 2 to its z-score.
    close(moved.density - base.density, Math.log(10) / 2, 1e-10);
  });
});

describe('combinedScore', () => {
  const even = { label: 0.5, distance: 0.25, density: 0.25 };

  it('is -log of the smallest weighted p-value', () => {
    // min(0.02 / 0.2, 0.5 / 0.4, 0.3 / 0.4) = min(0.1, 1.25, 0.75) = 0.1
    close(combinedScore({ label: 0.02, distance: 0.5, density: 0.3 }, { label: 0.2, distance: 0.4, density: 0.4 }), Math.log(10));
    // min(0.5 / 0.5, 0.01 / 0.25, 0.3 / 0.25) = min(1, 0.04, 1.2) = 0.04
    close(combinedScore({ label: 0.5, distance: 0.01, density: 0.3 }, even), Math.log(25));
    // min(0.5 / 0.5, 0.5 / 0.25, 0.005 / 0.25) = min(1, 2, 0.02) = 0.02: density decides.
    close(combinedScore({ label: 0.5, distance: 0.5, density: 0.005 }, even), Math.log(50));
    // Every signal at its weight: min(1, 1, 1) = 1 -> 0.
    close(combinedScore({ label: 0.5, distance: 0.25, density: 0.25 }, even), 0);
    // Large p-values give a negative score: min(0.9 / 0.5, 0.8 / 0.25, 0.6 / 0.25) = 1.8.
    close(combinedScore({ label: 0.9, distance: 0.8, density: 0.6 }, even), -Math.log(1.8));
  });

  it('weights decide which small p-value counts: the same p-values, two weightings', () => {
    const p = { label: 0.1, distance: 0.6, density: 0.05 };
    // Even: min(0.2, 2.4, 0.2) = 0.2.
    close(combinedScore(p, even), Math.log(5));
    // Label-heavy: min(0.1 / 0.8, 0.6 / 0.1, 0.05 / 0.1) = min(0.125, 6, 0.5) = 0.125.
    close(combinedScore(p, { label: 0.8, distance: 0.1, density: 0.1 }), Math.log(8));
    // Density-heavy: min(0.1 / 0.1, 0.6 / 0.1, 0.05 / 0.8) = 0.0625.
    close(combinedScore(p, { label: 0.1, distance: 0.1, density: 0.8 }), Math.log(16));
  });

  it('is monotone: a smaller p-value never lowers the score', () => {
    const base = { label: 0.5, distance: 0.5, density: 0.5 };
    for (const s of NAMES) {
      assert.ok(combinedScore({ ...base, [s]: 0.01 }, even) > combinedScore({ ...base, [s]: 0.1 }, even), s);
    }
    // Only the minimum counts: raising a p-value that is not the minimum changes nothing.
    const densityLow = { label: 0.5, distance: 0.5, density: 0.01 };
    assert.equal(combinedScore(densityLow, even), combinedScore({ ...densityLow, label: 0.4, distance: 0.3 }, even));
  });
});

describe('calibrate', () => {
  const rng = createRng(21);
  const set = drawSet(rng, 41);
  // Make the model disagree with the truth on some points, so predicted and true labels differ.
  set.predicted[0] = (set.labels[0] + 1) % CLASSES;
  set.predicted[40] = (set.labels[40] + 2) % CLASSES;
  const state = calibrate(set, K, CLASSES, 0.3, SIGNALS);

  it('cuts the calibration part in two: floor(n/2) fit, the rest held out', () => {
    assert.equal(state.k, K);
    assert.equal(state.classes, CLASSES);
    assert.deepEqual(state.weights, signalWeights(NAMES, 0.3));
    assert.equal(state.weights.label, 0.3);
    close(state.weights.distance, 0.35);
    close(state.weights.density, 0.35);
    for (const s of NAMES) {
      assert.equal(state.fit[s].length, 20, s);
      assert.equal(state.held[s].length, 21, s);
    }
    assert.equal(state.combined.length, 21);
    assert.deepEqual(state.signals, NAMES);
    assert.deepEqual(Object.keys(state.fit).sort(), ['density', 'distance', 'label']);
    assert.deepEqual(Object.keys(state.held).sort(), ['density', 'distance', 'label']);
    assert.equal(state.labelScores.length, 41);
    assert.deepEqual(state.params.label, {});
    assert.equal((state.params.distance as unknown[]).length, LAYERS);
    assert.equal((state.params.density as unknown[]).length, LAYERS);
    assert.equal(calibrationMismatch(state, SIGNALS, LAYERS), undefined);
    assert.deepEqual(CalibrationStateSchema.parse(state), state);
    assert.deepEqual(CalibrationStateSchema.parse(JSON.parse(JSON.stringify(state))), state);
  });

  it('fits the distance and density scales on half A only', () => {
    const distanceScales = state.params.distance as unknown[];
    const densityScales = state.params.density as unknown[];
    for (let l = 0; l < LAYERS; l++) {
      const distanceA = robustScale(set.evidence.slice(0, 20).map((e) => logNearest(e, l)));
      assert.deepEqual(distanceScales[l], distanceA);
      assert.notDeepEqual(distanceScales[l], robustScale(set.evidence.map((e) => logNearest(e, l))));
      const densityA = robustScale(set.evidence.slice(0, 20).map((e) => logDensity(e, l)));
      assert.deepEqual(densityScales[l], densityA);
      assert.notDeepEqual(densityScales[l], robustScale(set.evidence.map((e) => logDensity(e, l))));
    }
    // The density scales are fitted on the densities, not copied from the distances.
    assert.notDeepEqual(densityScales, distanceScales);
  });

  it('scores the predicted label in fit and held parts, sorted in fit', () => {
    const scores = set.evidence.map((e, i) => scoresOf(e, set.predicted[i], K, state.params.distance, state.params.density));
    for (const s of NAMES) {
      const column = scores.map((v) => v[s]);
      assert.deepEqual(state.fit[s], column.slice(0, 20).sort((a, b) => a - b), s);
      assert.deepEqual(state.held[s], column.slice(20), s);
    }
    // The label column really is the predicted label's nonconformity.
    assert.deepEqual(
      state.held.label,
      set.evidence.slice(20).map((e, i) => labelNonconformity(e, set.predicted[20 + i], K)),
    );
  });

  it('scores the true label in labelScores', () => {
    const trueScores = set.evidence.map((e, i) => labelNonconformity(e, set.labels[i], K));
    assert.deepEqual(state.labelScores, trueScores);
    // Where the model was wrong the two differ, so labelScores really uses the true labels.
    assert.notEqual(state.labelScores[0], labelNonconformity(set.evidence[0], set.predicted[0], K));
    assert.notEqual(state.labelScores[40], state.held.label[20]);
  });

  it('holds out combined scores computed against half A with the three weights', () => {
    const fit = {
      label: new CalibrationScores(state.fit.label),
      distance: new CalibrationScores(state.fit.distance),
      density: new CalibrationScores(state.fit.density),
    };
    state.combined.forEach((c, i) => {
      const p = {
        label: fit.label.pValue(state.held.label[i]),
        distance: fit.distance.pValue(state.held.distance[i]),
        density: fit.density.pValue(state.held.density[i]),
      };
      assert.equal(c, combinedScore(p, state.weights));
      assert.equal(c, -Math.log(Math.min(p.label / 0.3, p.distance / state.weights.distance, p.density / state.weights.density)));
      // p-values lie in [1/21, 1] and the largest weight is 0.35, so the score lies in
      // [-log(1 / 0.35), -log(1 / 21 / 0.35)].
      assert.ok(c >= Math.log(0.35) - 1e-12 && c <= Math.log(21 * 0.35) + 1e-12, `combined ${c}`);
    });
  });

  it('refuses fewer than 40 points', () => {
    assert.throws(() => calibrate(drawSet(createRng(1), 39), K, CLASSES, 0.5, SIGNALS), /at least 40 points, got 39/);
    assert.doesNotThrow(() => calibrate(drawSet(createRng(1), 40), K, CLASSES, 0.5, SIGNALS));
  });

  it('the schema refuses a zero weight or an empty score list', () => {
    const json = JSON.parse(JSON.stringify(state));
    assert.equal(CalibrationStateSchema.safeParse({ ...json, weights: { ...json.weights, density: 0 } }).success, false);
    assert.equal(CalibrationStateSchema.safeParse({ ...json, held: { ...json.held, density: [] } }).success, false);
    assert.equal(CalibrationStateSchema.safeParse({ ...json, combined: [] }).success, false);
  });

  it('calibrationMismatch names what does not fit the signals: their list, their scores, their parameters', () => {
    const json = JSON.parse(JSON.stringify(state)) as CalibrationState;
    const withoutDensity = { ...json, fit: { label: json.fit.label, distance: json.fit.distance } };
    assert.match(calibrationMismatch(withoutDensity, SIGNALS, LAYERS) ?? '', /no scores for the density signal/);
    assert.match(calibrationMismatch({ ...json, signals: ['label', 'distance'] }, SIGNALS, LAYERS) ?? '', /combines \[label, distance\]/);
    assert.match(calibrationMismatch(json, SIGNALS, LAYERS + 1) ?? '', /distance parameters do not fit 4 layers/);
    assert.match(calibrationMismatch({ ...json, params: { ...json.params, label: { extra: 1 } } }, SIGNALS, LAYERS) ?? '', /label parameters/);
    assert.throws(() => new Calibrator(withoutDensity, SIGNALS, LAYERS), /no scores for the density signal/);
  });
});

describe('Calibrator.score', () => {
  // One layer, k = 3, two classes, weights 0.5 / 0.25 / 0.25. Every p-value below is
  // (count >= score + 1) / (n + 1). Distance z = log nearest; density z = (log d - 1) / 2.
  const state: CalibrationState = CalibrationStateSchema.parse({
    k: 3,
    classes: 2,
    signals: ['label', 'distance', 'density'],
    weights: { label: 0.5, distance: 0.25, density: 0.25 },
    params: { label: {}, distance: [{ center: 0, scale: 1 }], density: [{ center: 1, scale: 2 }] },
    fit: { label: [0, 1, 2, 3], distance: [-1, 0, 1, 2], density: [-1.5, -0.5, 0.5, 1.5] },
    held: { label: [0, 2, 4], distance: [0.2, 0.4, 0.9], density: [-1, 0.25, 2] },
    combined: [-1, -0.5, 0, 0.7, 1.5],
    labelScores: [0, 0, 1, 2, 3],
  });
  const calibrator = new Calibrator(state, SIGNALS, 1);
  // Scores: label 1 (counts [2, 1], predicted 0), distance 0.5, density ~0 (d = e^1).
  const ordinary = evidenceOf([[2, 1]], [Math.exp(0.5)], [Math.E]);

  it('an ordinary input: hand-computed p-values', () => {
    const scored = calibrator.score(ordinary, 0);
    // fit.label >= 1: 3 of 4 -> 4/5; fit.distance >= 0.5: 2 of 4 -> 3/5; fit.density >= 0: 2 of 4 -> 3/5.
    // combined = -log(min(0.8 / 0.5, 0.6 / 0.25, 0.6 / 0.25)) = -log(1.6) = -0.47;
    // held.combined >= that: 3 of 5 -> 4/6.
    close(scored.pValues.combined, 4 / 6);
    close(scored.outlierScore, 1 - 4 / 6);
    // held.label >= 1: 2 of 3 -> 3/4; held.distance >= 0.5: 1 of 3 -> 2/4; held.density >= 0: 2 of 3 -> 3/4.
    close(scored.pValues.label, 3 / 4);
    close(scored.pValues.distance, 2 / 4);
    close(scored.pValues.density, 3 / 4);
    assert.deepEqual(Object.keys(scored.pValues).sort(), ['combined', 'density', 'distance', 'label']);
    // labelScores >= 1: 3 of 5 -> 4/6 for class 0; >= 2: 2 of 5 -> 3/6 for class 1.
    close(scored.credibility, 4 / 6);
    close(scored.confidence, 1 - 3 / 6);
    assert.equal(scored.knnLabel, 0);
  });

  it('the same input scored for its less likely label', () => {
    const scored = calibrator.score(ordinary, 1);
    // alpha(1) = 2: fit.label >= 2: 2 of 4 -> 3/5; combined = -log(min(1.2, 2.4, 2.4)) = -0.18;
    // held.combined >= that: 3 of 5 -> 4/6.
    close(scored.pValues.combined, 4 / 6);
    // held.label >= 2: 2 of 3 -> 3/4.
    close(scored.pValues.label, 3 / 4);
    close(scored.pValues.density, 3 / 4);
    close(scored.credibility, 3 / 6);
    close(scored.confidence, 1 - 3 / 6);
    assert.equal(scored.knnLabel, 0);
  });

  it('a density-only outlier: neighbours and distance ordinary, Mahalanobis distance far', () => {
    // d = e^9: density z = (9 - 1) / 2 = 4; label and distance as for the ordinary input.
    const scored = calibrator.score(evidenceOf([[2, 1]], [Math.exp(0.5)], [Math.exp(9)]), 0);
    // fit.density >= 4: 0 of 4 -> 1/5; combined = -log(min(1.6, 2.4, 0.2 / 0.25)) = -log(0.8) = 0.22;
    // held.combined >= 0.22: 2 of 5 -> 3/6.
    close(scored.pValues.combined, 3 / 6);
    close(scored.outlierScore, 1 - 3 / 6);
    // held.density >= 4: 0 of 3 -> 1/4; the other two are those of the ordinary input.
    close(scored.pValues.density, 1 / 4);
    close(scored.pValues.label, 3 / 4);
    close(scored.pValues.distance, 2 / 4);
    // The label read-outs depend on the neighbours only.
    close(scored.credibility, 4 / 6);
    close(scored.confidence, 1 - 3 / 6);
    assert.equal(scored.knnLabel, 0);
  });

  it('the same density outlier under a label-heavy weighting is not flagged by the combination', () => {
    const labelHeavy = new Calibrator({ ...state, weights: { label: 0.8, distance: 0.1, density: 0.1 } }, SIGNALS, 1);
    const scored = labelHeavy.score(evidenceOf([[2, 1]], [Math.exp(0.5)], [Math.exp(9)]), 0);
    // combined = -log(min(0.8 / 0.8, 0.6 / 0.1, 0.2 / 0.1)) = -log(1) = 0;
    // held.combined >= 0: 3 of 5 -> 4/6. The per-signal p-values do not depend on the weights.
    close(scored.pValues.combined, 4 / 6);
    close(scored.pValues.density, 1 / 4);
  });

  it('a NaN density gets the smallest density p-value, never a pass', () => {
    const scored = calibrator.score(evidenceOf([[2, 1]], [Math.exp(0.5)], [Number.NaN]), 0);
    // NaN -> fit p = 1/5 and held p = 1/4, exactly as for the far density above.
    close(scored.pValues.density, 1 / 4);
    close(scored.pValues.combined, 3 / 6);
  });

  it('a far, disputed input with an ordinary density: small label and distance p-values', () => {
    // counts [0, 3], predicted 0: alpha = 3; distance z = 3; d = e^-0.2 -> density z = -0.6.
    const scored = calibrator.score(evidenceOf([[0, 3]], [Math.exp(3)], [Math.exp(-0.2)]), 0);
    // fit.label >= 3: 1 -> 2/5; fit.distance >= 3: 0 -> 1/5; fit.density >= -0.6: 3 -> 4/5.
    // combined = -log(min(0.4 / 0.5, 0.2 / 0.25, 0.8 / 0.25)) = -log(0.8); held.combined: 2 of 5 -> 3/6.
    close(scored.pValues.combined, 3 / 6);
    close(scored.outlierScore, 3 / 6);
    // held.label >= 3: 1 of 3 -> 2/4; held.distance >= 3: 0 -> 1/4; held.density >= -0.6: 2 of 3 -> 3/4.
    close(scored.pValues.label, 2 / 4);
    close(scored.pValues.distance, 1 / 4);
    close(scored.pValues.density, 3 / 4);
    // alpha(0) = 3 -> labelScores >= 3: 1 -> 2/6; alpha(1) = 0 -> 6/6.
    close(scored.credibility, 2 / 6);
    close(scored.confidence, 1 - 2 / 6);
    assert.equal(scored.knnLabel, 1);
  });

  it('an input far on every signal: the smallest combined p-value this calibration can give', () => {
    // alpha 3, distance z 3, density z 4: p = 2/5, 1/5, 1/5 -> min(0.8, 0.8, 0.8) -> 0.22 as above.
    // With five held combined scores, the two above 0.22 still count: 3/6.
    const scored = calibrator.score(evidenceOf([[0, 3]], [Math.exp(3)], [Math.exp(9)]), 0);
    close(scored.pValues.combined, 3 / 6);
    close(scored.pValues.label, 2 / 4);
    close(scored.pValues.distance, 1 / 4);
    close(scored.pValues.density, 1 / 4);
  });

  it('an input nearer, denser and more agreed on than everything gets p = 1 per signal', () => {
    const scored = calibrator.score(evidenceOf([[3, 0]], [Math.exp(-5)], [Math.exp(-9)]), 0);
    // alpha 0, distance z -5, density z -5: every fit p-value is 1; combined = -log(min(2, 4, 4)).
    // held.combined >= -0.693: 4 of 5 -> 5/6 (-1 is the only lower one).
    close(scored.pValues.combined, 5 / 6);
    close(scored.outlierScore, 1 / 6);
    close(scored.pValues.label, 1);
    close(scored.pValues.distance, 1);
    close(scored.pValues.density, 1);
    close(scored.credibility, 1);
    // alpha(1) = 3 -> 2/6.
    close(scored.confidence, 1 - 2 / 6);
    assert.equal(scored.knnLabel, 0);
  });
});

describe('the conformal guarantee', () => {
  const rng = createRng(2024);
  const calibration = drawSet(rng, 2000);
  const calibrator = new Calibrator(calibrate(calibration, K, CLASSES, 0.5, SIGNALS), SIGNALS, LAYERS);

  const shareAtOrBelow = (set: ReturnType<typeof drawSet>, signal: string, significance: number) => {
    let flagged = 0;
    set.evidence.forEach((e, i) => {
      if (calibrator.score(e, set.predicted[i]).pValues[signal] <= significance) flagged++;
    });
    return flagged / set.evidence.length;
  };

  it('flags about 5% of exchangeable test inputs at significance 0.05', () => {
    const test = drawSet(rng, 2000);
    // 2000 test points: the binomial standard deviation of the share is about 0.005.
    const share = shareAtOrBelow(test, 'combined', 0.05);
    assert.ok(share >= 0.03 && share <= 0.07, `share ${share}`);
    // The continuous distance and density signals alone are valid too; the discrete label one is conservative.
    const distanceShare = shareAtOrBelow(test, 'distance', 0.05);
    assert.ok(distanceShare >= 0.03 && distanceShare <= 0.07, `distance share ${distanceShare}`);
    const densityShare = shareAtOrBelow(test, 'density', 0.05);
    assert.ok(densityShare >= 0.03 && densityShare <= 0.07, `density share ${densityShare}`);
    assert.ok(shareAtOrBelow(test, 'label', 0.05) <= 0.07);
  });

  it('flags most inputs whose distances are shifted farther out', () => {
    const shifted = drawSet(rng, 2000, { distance: 1.5 });
    const share = shareAtOrBelow(shifted, 'combined', 0.05);
    assert.ok(share > 0.5, `share ${share}`);
    // Only the distance moved: the density signal still flags at about the significance.
    const densityShare = shareAtOrBelow(shifted, 'density', 0.05);
    assert.ok(densityShare >= 0.03 && densityShare <= 0.07, `density share ${densityShare}`);
  });

  it('flags a density-only shift far more often than 0.05', () => {
    // Neighbour labels and distances drawn exactly as in calibration; only the squared
    // Mahalanobis distances are four times larger in every layer.
    const shifted = drawSet(rng, 2000, { density: 4 });
    // (About 0.95 of them are flagged with this seed.)
    const share = shareAtOrBelow(shifted, 'combined', 0.05);
    assert.ok(share > 0.8, `combined share ${share}`);
    const densityShare = shareAtOrBelow(shifted, 'density', 0.05);
    assert.ok(densityShare > 0.8, `density share ${densityShare}`);
    // The neighbour signals cannot see it: they stay at about the significance.
    const distanceShare = shareAtOrBelow(shifted, 'distance', 0.05);
    assert.ok(distanceShare >= 0.03 && distanceShare <= 0.07, `distance share ${distanceShare}`);
    assert.ok(shareAtOrBelow(shifted, 'label', 0.05) <= 0.07);
  });
});

describe('signal names', () => {
  const set = drawSet(createRng(4), 40);
  const renamed = (name: string) => [SIGNALS[0], { ...SIGNALS[1], name }];

  it('refuses names that would clash with the combined p-value, a cache file name, or each other', () => {
    assert.throws(() => calibrate(set, K, CLASSES, 0.5, renamed('combined')), /"combined" names the combined p-value/);
    assert.throws(() => calibrate(set, K, CLASSES, 0.5, renamed('../x')), /must match/);
    assert.throws(() => calibrate(set, K, CLASSES, 0.5, renamed('label')), /two signals are named "label"/);
  });

  it('does not take an inherited key for a signal the calibration lacks', () => {
    const state = calibrate(set, K, CLASSES, 0.5, SIGNALS.slice(0, 2));
    const constructorSignal = { ...SIGNALS[1], name: 'constructor' };
    assert.match(calibrationMismatch({ ...state, signals: ['label', 'constructor'] }, [SIGNALS[0], constructorSignal], LAYERS) ?? '', /no scores for the constructor signal/);
  });
});
