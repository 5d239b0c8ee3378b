import type { Neighbors } from '../neighbors/neighbor-index.js';
import { nonconformity } from '../math/conformal.js';

/**
 * Raw per-input evidence from the neighbour searches, before any calibration: everything the
 * conformal layer needs, computed once per input. Pure: no tfjs, no I/O.
 */
export interface Evidence {
  /** counts[l][j]: neighbours of class j among the k found in layer l. */
  counts: Int32Array[];
  /** Squared-L2 distance to the nearest reference point, per layer (normalised activations). */
  nearestDistances: Float64Array;
  /** Mean squared-L2 distance to the k neighbours, per layer. */
  meanDistances: Float64Array;
  /** Squared Mahalanobis distance to the nearest class mean, per layer (raw activations). */
  densities: Float64Array;
}

export function gatherEvidence(
  neighbors: Neighbors[],
  referenceLabels: Int32Array,
  classes: number,
  densities: Float64Array,
): Evidence {
  const counts: Int32Array[] = [];
  const nearestDistances = new Float64Array(neighbors.length);
  const meanDistances = new Float64Array(neighbors.length);
  neighbors.forEach((found, l) => {
    const c = new Int32Array(classes);
    for (let i = 0; i < found.ids.length; i++) c[referenceLabels[found.ids[i]]]++;
    counts.push(c);
    let sum = 0;
    for (let i = 0; i < found.distances.length; i++) sum += found.distances[i];
    const n = found.distances.length;
    nearestDistances[l] = n > 0 ? found.distances[0] : Number.POSITIVE_INFINITY;
    meanDistances[l] = n > 0 ? sum / n : Number.POSITIVE_INFINITY;
  });
  return { counts, nearestDistances, meanDistances, densities };
}

/** DkNN nonconformity of label j: sum over layers of (k - neighbours carrying j). */
export function labelNonconformity(evidence: Evidence, label: number, k: number): number {
  return nonconformity(
    evidence.counts.map((c) => c[label]),
    k,
  );
}

/**
 * Log distance to the nearest reference point in each layer. The nearest neighbour, not the
 * k-th: with a few thousand reference points the k-th neighbour of an in-distribution input is
 * already far, which blurs it with near-OOD inputs (docs/scoring.md has the measurements).
 * Logs make the tails of layers with different scales comparable.
 */
export function logNearestDistances(evidence: Evidence): number[] {
  return Array.from(evidence.nearestDistances, (d) => Math.log(d + 1e-12));
}

/**
 * Log squared Mahalanobis distance in each layer. It sees what the neighbour search cannot:
 * directions in which the reference data never varies (ink where no digit has any, say) cost
 * far more than their Euclidean length.
 */
export function logDensities(evidence: Evidence): number[] {
  return Array.from(evidence.densities, (d) => Math.log(d + 1e-12));
}
