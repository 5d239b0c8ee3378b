import assert from 'node:assert/strict';
import type { WorkPhase } from '../../src/detector/work-phases.js';
import { describe, it } from 'node:test';
import type { MahalanobisModel } from '../../src/math/mahalanobis.js';
import { ExactIndex } from '../../src/neighbors/exact-index.js';
import type { Neighbors } from '../../src/neighbors/neighbor-index.js';
import { evidenceFor, measureLayers, searchLayers } from '../../src/detector/search.js';
import { densitySignal } from '../../src/detector/signals/density.js';
import { distanceSignal } from '../../src/detector/signals/distance.js';
import { gatherEvidence, labelNonconformity } from '../../src/detector/signals/evidence.js';
import { releaseModels, type Evidence } from '../../src/detector/signals/signal.js';

/** Per-layer densities as the density signal's measured evidence. */
const densityOf = (values: number[]) => ({ density: Float64Array.from(values) });
const densityScores = async (models: MahalanobisModel[], activations: { data: Float32Array; rows: number; cols: number }[]) => {
  const signalModels = { density: models };
  try {
    return (await measureLayers([densitySignal], signalModels, activations)).density;
  } finally {
    await releaseModels([densitySignal], signalModels);
  }
};

const found = (ids: number[], distances: number[]): Neighbors => ({
  ids: Int32Array.from(ids),
  distances: Float32Array.from(distances),
});

// Reference points 0..7 with labels; classes 0..2.
const referenceLabels = Int32Array.from([0, 0, 1, 2, 1, 0, 2, 2]);

describe('gatherEvidence', () => {
  it('counts neighbour labels and takes the nearest and mean distance per layer', () => {
    const evidence = gatherEvidence(
      [found([0, 2, 5, 7], [0.25, 0.5, 1, 2.25]), found([3, 6, 7, 4], [1, 1.5, 2, 3.5])],
      referenceLabels,
      3,
      densityOf([4.5, 0.125]),
    );
    assert.deepEqual(evidence.counts, [Int32Array.from([2, 1, 1]), Int32Array.from([0, 1, 3])]);
    assert.deepEqual(evidence.nearestDistances, Float64Array.from([0.25, 1]));
    assert.deepEqual(evidence.meanDistances, Float64Array.from([(0.25 + 0.5 + 1 + 2.25) / 4, (1 + 1.5 + 2 + 3.5) / 4]));
    assert.equal(evidence.meanDistances[0], 1);
    assert.equal(evidence.meanDistances[1], 2);
    assert.deepEqual(evidence.measured.density, Float64Array.from([4.5, 0.125]));
  });

  it('passes the measured values through untouched', () => {
    const measured = densityOf([0, 1e300, Number.NaN]);
    const evidence = gatherEvidence([found([0], [0]), found([1], [0]), found([2], [0])], referenceLabels, 3, measured);
    assert.equal(evidence.measured.density.length, 3);
    assert.equal(evidence.measured.density[0], 0);
    assert.equal(evidence.measured.density[1], 1e300);
    assert.ok(Number.isNaN(evidence.measured.density[2]));
  });

  it('gives zero counts and infinite distances for a layer that found nothing', () => {
    const evidence = gatherEvidence([found([], []), found([1], [0.5])], referenceLabels, 3, densityOf([2, 3]));
    assert.deepEqual(evidence.counts, [Int32Array.from([0, 0, 0]), Int32Array.from([1, 0, 0])]);
    assert.deepEqual(Array.from(evidence.nearestDistances), [Infinity, 0.5]);
    assert.deepEqual(Array.from(evidence.meanDistances), [Infinity, 0.5]);
    // The density does not depend on the neighbour search, so an empty search leaves it alone.
    assert.deepEqual(Array.from(evidence.measured.density), [2, 3]);
  });

  it('has one entry per layer and one count per class', () => {
    const evidence = gatherEvidence(
      [found([0], [0]), found([1], [0]), found([2], [0])],
      referenceLabels,
      4,
      densityOf([1, 2, 3]),
    );
    assert.equal(evidence.counts.length, 3);
    assert.ok(evidence.counts.every((c) => c.length === 4));
    assert.equal(evidence.nearestDistances.length, 3);
    assert.equal(evidence.meanDistances.length, 3);
    assert.equal(evidence.measured.density.length, 3);
    assert.deepEqual(Array.from(evidence.counts[2]), [0, 1, 0, 0]);
  });
});

describe('labelNonconformity', () => {
  const evidence: Evidence = {
    counts: [Int32Array.from([3, 1, 1]), Int32Array.from([2, 2, 1]), Int32Array.from([5, 0, 0])],
    nearestDistances: Float64Array.from([1, 1, 1]),
    meanDistances: Float64Array.from([1, 1, 1]),
    measured: densityOf([1, 1, 1]),
  };

  it('sums k minus the neighbours carrying the label over layers', () => {
    // k = 5: label 0 -> 2 + 3 + 0, label 1 -> 4 + 3 + 5, label 2 -> 4 + 4 + 5.
    assert.equal(labelNonconformity(evidence, 0, 5), 5);
    assert.equal(labelNonconformity(evidence, 1, 5), 12);
    assert.equal(labelNonconformity(evidence, 2, 5), 13);
  });

  it('is 0 when every neighbour in every layer agrees, and L * k when none does', () => {
    const unanimous: Evidence = { ...evidence, counts: [Int32Array.from([0, 4]), Int32Array.from([0, 4])] };
    assert.equal(labelNonconformity(unanimous, 1, 4), 0);
    assert.equal(labelNonconformity(unanimous, 0, 4), 8);
  });

  it('ignores distances and densities', () => {
    const far: Evidence = { ...evidence, nearestDistances: Float64Array.from([9, 9, 9]), measured: densityOf([1e6, 1e6, 1e6]) };
    assert.equal(labelNonconformity(far, 0, 5), 5);
  });
});

/** Unit scales: each layer's z-score is then the log value itself. */
const unit = (layers: number) => Array.from({ length: layers }, () => ({ center: 0, scale: 1 }));
const evidenceWith = (nearest: number[], density: number[]): Evidence => ({
  counts: [],
  nearestDistances: Float64Array.from(nearest),
  meanDistances: Float64Array.from(nearest, () => 1),
  measured: densityOf(density),
});

describe('the distance signal', () => {
  it('sums the log of each layer nearest distance (plus 1e-12, so 0 stays finite), ignoring the densities', () => {
    const score = distanceSignal.score(evidenceWith([1, Math.E ** 2, 0], [7, 7, 7]), 0, unit(3), 5);
    assert.ok(Math.abs(score - (0 + 2 + Math.log(1e-12))) < 1e-11);
    assert.equal(distanceSignal.score(evidenceWith([1, Math.E ** 2, 0], [1e9, 0, 3]), 0, unit(3), 5), score);
  });
});

describe('the density signal', () => {
  it('sums the log of each layer squared Mahalanobis distance, ignoring the nearest distances', () => {
    const five = Math.exp(5);
    const score = densitySignal.score(evidenceWith([five, five, five, five], [1, Math.exp(3), 0, 1e6]), 0, unit(4), 5);
    assert.ok(Math.abs(score - (0 + 3 + Math.log(1e-12) + 6 * Math.LN10)) < 1e-10);
    assert.ok(Number.isFinite(score));
  });

  it('keeps a NaN density NaN, so the calibrator can give it the smallest p-value', () => {
    assert.ok(Number.isNaN(densitySignal.score(evidenceWith([1], [Number.NaN]), 0, unit(1), 5)));
  });

  it('names the missing evidence when its reference model never measured any', () => {
    const unmeasured: Evidence = { ...evidenceWith([1], [1]), measured: {} };
    assert.throws(() => densitySignal.score(unmeasured, 0, unit(1), 5), /no evidence measured for the density signal/);
  });
});

/**
 * A Mahalanobis model with identity covariance: L = I, so the whitened means are the means and
 * each density is the plain squared distance to the nearest class mean, computable by hand.
 */
function identityModel(means: number[][]): MahalanobisModel {
  const dim = means[0].length;
  const flat = Float64Array.from(means.flat());
  const choleskyFactor = new Float64Array(dim * dim);
  for (let j = 0; j < dim; j++) choleskyFactor[j * dim + j] = 1;
  return { dim, classes: means.length, means: flat, choleskyFactor, whitenedMeans: Float64Array.from(flat), ridge: 0 };
}

describe('densityScores', () => {
  it('gives per layer each row its squared Mahalanobis distance to the nearest class mean', async () => {
    const models = [
      identityModel([
        [1, 0],
        [0, 1],
      ]),
      // A diagonal covariance diag(4, 1, 1): L = diag(2, 1, 1), whitened means = L^-1 mu.
      {
        dim: 3,
        classes: 1,
        means: Float64Array.from([2, 0, 0]),
        choleskyFactor: Float64Array.from([2, 0, 0, 0, 1, 0, 0, 0, 1]),
        whitenedMeans: Float64Array.from([1, 0, 0]),
        ridge: 0,
      },
    ];
    const activations = [
      { data: Float32Array.from([5, 0, 0, -0.5]), rows: 2, cols: 2 },
      { data: Float32Array.from([0, 3, 0, 6, 0, 2]), rows: 2, cols: 3 },
    ];
    const scores = await densityScores(models, activations);
    assert.equal(scores.length, 2);
    // Raw activations, not normalised: (5, 0) is 4^2 from (1, 0) and 5^2 + 1 from (0, 1).
    // (0, -0.5): 1 + 0.25 from (1, 0), 0 + 2.25 from (0, 1).
    assert.deepEqual(Array.from(scores[0]), [16, 1.25]);
    // (0, 3, 0): (0 - 2)^2 / 4 + 9 = 10; (6, 0, 2): (6 - 2)^2 / 4 + 4 = 8.
    assert.deepEqual(Array.from(scores[1]), [10, 8]);
  });
});

describe('searchLayers + densityScores + evidenceFor', () => {
  it('normalises each layer, searches its index and gathers per-row evidence', async () => {
    // Layer 0 in 2-d, layer 1 in 3-d; the references are already unit vectors.
    const layer0 = new ExactIndex(2);
    layer0.addAll(Float32Array.from([1, 0, 0, 1, -1, 0, 0, -1]), 4);
    const layer1 = new ExactIndex(3);
    layer1.addAll(Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 0.6, 0.8, 0]), 4);
    const labels = Int32Array.from([0, 1, 1, 0]);
    // Two query rows, deliberately not unit length: normalisation must make that irrelevant.
    const activations = [
      { data: Float32Array.from([5, 0, 0, -0.5]), rows: 2, cols: 2 },
      { data: Float32Array.from([0, 3, 0, 0, 0, 7]), rows: 2, cols: 3 },
    ];
    const phases: WorkPhase[] = [];
    const byLayer = searchLayers([layer0, layer1], activations, 2, ['a', 'b'], phases);
    assert.deepEqual(phases.map((p) => [p.name, p.layer, p.rows]), [['search', 'a', 2], ['search', 'b', 2]]);
    assert.equal(byLayer.length, 2);
    assert.equal(byLayer[0].length, 2);
    // Row 0, layer 0: (1, 0) exactly, then (0, +-1) at distance 2, the smaller id winning the tie.
    assert.deepEqual(Array.from(byLayer[0][0].ids), [0, 1]);
    assert.deepEqual(Array.from(byLayer[0][0].distances), [0, 2]);
    // Row 0, layer 1: (0, 1, 0) exactly, then (0.6, 0.8, 0) at 0.36 + 0.04 = 0.4.
    assert.deepEqual(Array.from(byLayer[1][0].ids), [1, 3]);
    assert.ok(Math.abs(byLayer[1][0].distances[1] - 0.4) < 1e-6);

    // Densities on the raw (unnormalised) activations; identity covariance, so by hand:
    // layer 0 means (1, 0), (0, 1): row 0 -> 16, row 1 -> 1.25 (see densityScores above);
    // layer 1 mean (0, 0, 1): row 0 -> 9 + 1 = 10, row 1 -> 6^2 = 36.
    const densities = await densityScores(
      [
        identityModel([
          [1, 0],
          [0, 1],
        ]),
        identityModel([[0, 0, 1]]),
      ],
      activations,
    );
    assert.deepEqual(densities.map((d) => Array.from(d)), [
      [16, 1.25],
      [10, 36],
    ]);

    const evidence = evidenceFor(byLayer, { density: densities }, 2, labels, 2);
    assert.equal(evidence.length, 2);
    assert.deepEqual(evidence[0].counts, [Int32Array.from([1, 1]), Int32Array.from([1, 1])]);
    // Each row gets its own density from every layer (the layer-major arrays transposed).
    assert.deepEqual(evidence[0].measured.density, Float64Array.from([16, 10]));
    assert.deepEqual(evidence[1].measured.density, Float64Array.from([1.25, 36]));
    // Row 1: (0, -1) in layer 0 -> ids 3 then 0 (tie with 2 at distance 2, smaller id first);
    // (0, 0, 1) in layer 1 -> id 2, then 0 and 1 tie at 2 -> id 0.
    assert.deepEqual(Array.from(byLayer[0][1].ids), [3, 0]);
    assert.deepEqual(Array.from(byLayer[1][1].ids), [2, 0]);
    assert.deepEqual(evidence[1].counts, [Int32Array.from([2, 0]), Int32Array.from([1, 1])]);
    assert.deepEqual(Array.from(evidence[1].nearestDistances), [0, 0]);
    assert.deepEqual(Array.from(evidence[1].meanDistances), [1, 1]);
  });
});
