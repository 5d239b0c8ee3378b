import type { Matrix } from '../math/matrix.js';
import { l2NormalizeRows } from '../math/normalize.js';
import type { NeighborIndex, Neighbors } from '../neighbors/neighbor-index.js';
import { gatherEvidence } from './signals/evidence.js';
import { withReference, type Evidence, type Signal, type SignalModels } from './signals/signal.js';
import type { WorkPhase } from './work-phases.js';

/**
 * Neighbours of each row in each layer. Serving and calibration both come through here, so a
 * calibration score and a served score are computed the same way.
 */
export function searchLayers(
  indexes: NeighborIndex[],
  activations: Matrix[],
  k: number,
  layerNames: string[],
  phases?: WorkPhase[],
): Neighbors[][] {
  return activations.map((layer, l) => {
    // On the unit sphere distances compare directions, and no layer's activation scale can
    // dominate the others (the DkNN reference code normalises for the same reason).
    const normalized = l2NormalizeRows(layer);
    const started = performance.now();
    const found = indexes[l].searchBatch(normalized.data as Float32Array, normalized.rows, k);
    const ended = performance.now();
    phases?.push({ name: 'search', layer: layerNames[l], rows: normalized.rows, startMs: performance.timeOrigin + started, endMs: performance.timeOrigin + ended });
    return found;
  });
}

/** By signal name, per layer, each row's value as measured by the signal's reference model. */
export async function measureLayers(signals: readonly Signal[], models: SignalModels, activations: Matrix[]): Promise<Record<string, Float64Array[]>> {
  // Started together, not one after another: onnxruntime runs each product on this thread from
  // a setImmediate callback, so those of all layers then run in one turn of the event loop
  // instead of one turn each (at batch 1 the turns cost as much as the small layers' products).
  const signalsWithModels = withReference(signals);
  const values = await Promise.all(
    signalsWithModels.map((s) => Promise.all(activations.map((layer, l) => s.reference.measure(models[s.name][l], layer)))),
  );
  return Object.fromEntries(signalsWithModels.map((s, i) => [s.name, values[i]]));
}

export function evidenceFor(
  byLayer: Neighbors[][],
  measured: Record<string, Float64Array[]>,
  rows: number,
  referenceLabels: Int32Array,
  classes: number,
): Evidence[] {
  const names = Object.keys(measured);
  return Array.from({ length: rows }, (_, i) =>
    gatherEvidence(
      byLayer.map((layer) => layer[i]),
      referenceLabels,
      classes,
      Object.fromEntries(names.map((name) => [name, Float64Array.from(measured[name], (layer) => layer[i])])),
    ),
  );
}
