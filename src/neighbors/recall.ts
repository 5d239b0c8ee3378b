import type { Neighbors } from './neighbor-index.js';

/**
 * Mean over queries of |approx ∩ exact| / |exact|: the fraction of the true k nearest
 * neighbours that the approximate search found. Order inside the top k is ignored, as in
 * the ANN benchmarks. A query whose exact list is empty has nothing to miss and counts as 1.
 */
export function recallAtK(approx: readonly Neighbors[], exact: readonly Neighbors[]): number {
  if (approx.length !== exact.length) {
    throw new RangeError(`recallAtK: ${approx.length} approximate vs ${exact.length} exact result lists`);
  }
  if (exact.length === 0) throw new RangeError('recallAtK: no queries');
  let total = 0;
  for (let q = 0; q < exact.length; q++) {
    const truth = exact[q].ids;
    if (truth.length === 0) {
      total += 1;
      continue;
    }
    const wanted = new Set(truth);
    let hits = 0;
    // Only the first |truth| approximate ids count: returning more candidates must not buy recall.
    const found = approx[q].ids.subarray(0, truth.length);
    for (const id of found) if (wanted.has(id)) hits++;
    total += hits / truth.length;
  }
  return total / exact.length;
}
