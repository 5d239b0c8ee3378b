import { nonconformity } from '../../math/conformal.js';
import type { Neighbors } from '../../neighbors/neighbor-index.js';
import type { Evidence } from './signal.js';

/** One input's evidence from its neighbours in each layer and what the signals measured for it. */
export function gatherEvidence(
  neighbors: Neighbors[],
  referenceLabels: Int32Array,
  classes: number,
  measured: Record<string, Float64Array>,
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
  return { counts, nearestDistances, meanDistances, measured };
}

/** DkNN nonconformity of label j: sum over layers of (k - neighbours carrying j). */
export function labelNonconformity(evidence: Evidence, label: number, k: number): number {
  return nonconformity(
    evidence.counts.map((c) => c[label]),
    k,
  );
}
