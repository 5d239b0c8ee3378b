import { mahalanobisOutlierScores, type MahalanobisModel } from '../baselines/mahalanobis.js';
import type { Matrix } from '../math/matrix.js';
import { l2NormalizeRows } from '../math/normalize.js';
import type { NeighborIndex, Neighbors } from '../neighbors/neighbor-index.js';
import { gatherEvidence, type Evidence } from './signals.js';

/**
 * Neighbours of each row in each layer. Serving and calibration both come through here, so a
 * calibration score and a served score are computed the same way.
 */
export function searchLayers(
  indexes: NeighborIndex[],
  activations: Matrix[],
  k: number,
  layerNames: string[],
  timings?: Record<string, number>,
): Neighbors[][] {
  return activations.map((layer, l) => {
    // On the unit sphere distances compare directions, and no layer's activation scale can
    // dominate the others (the DkNN reference code normalises for the same reason).
    const normalized = l2NormalizeRows(layer);
    const started = performance.now();
    const found = indexes[l].searchBatch(normalized.data as Float32Array, normalized.rows, k);
    if (timings) timings[layerNames[l]] = (performance.now() - started) / 1000;
    return found;
  });
}

/** Per layer, each row's squared Mahalanobis distance to its nearest class mean. */
export function densityScores(models: MahalanobisModel[], activations: Matrix[]): Float64Array[] {
  return activations.map((layer, l) => mahalanobisOutlierScores(models[l], layer));
}

export function evidenceFor(
  byLayer: Neighbors[][],
  densityByLayer: Float64Array[],
  rows: number,
  referenceLabels: Int32Array,
  classes: number,
): Evidence[] {
  return Array.from({ length: rows }, (_, i) =>
    gatherEvidence(
      byLayer.map((layer) => layer[i]),
      referenceLabels,
      classes,
      Float64Array.from(densityByLayer, (layer) => layer[i]),
    ),
  );
}
