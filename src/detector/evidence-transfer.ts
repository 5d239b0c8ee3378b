import type { ScoredLayers } from './layer-scorer.js';
import type { Evidence } from './signals/signal.js';
import type { WorkPhase } from './work-phases.js';

/**
 * ScoredLayers as a few flat typed arrays, the form in which a scoring thread hands its results
 * back: one structured clone of a few arrays instead of thousands of small objects.
 */
export interface PackedScores {
  rows: number;
  layers: number;
  classes: number;
  /** rows x layers x classes */
  counts: Int32Array;
  /** rows x layers, each */
  nearest: Float64Array;
  mean: Float64Array;
  /** By signal name, rows x layers. */
  measured: Record<string, Float64Array>;
  /** Every row's neighbour ids, layer after layer; each run is as long as its counts' sum. */
  ids?: Int32Array;
  phases: WorkPhase[];
}

export function packScores(scored: ScoredLayers, layers: number, classes: number): PackedScores {
  const rows = scored.evidence.length;
  const counts = new Int32Array(rows * layers * classes);
  const nearest = new Float64Array(rows * layers);
  const mean = new Float64Array(rows * layers);
  const names = rows > 0 ? Object.keys(scored.evidence[0].measured) : [];
  const measured = Object.fromEntries(names.map((name) => [name, new Float64Array(rows * layers)]));
  scored.evidence.forEach((ev, i) => {
    for (let l = 0; l < layers; l++) counts.set(ev.counts[l], (i * layers + l) * classes);
    nearest.set(ev.nearestDistances, i * layers);
    mean.set(ev.meanDistances, i * layers);
    for (const name of names) measured[name].set(ev.measured[name], i * layers);
  });
  let ids: Int32Array | undefined;
  if (scored.neighborIds) {
    ids = new Int32Array(scored.neighborIds.reduce((sum, row) => sum + row.reduce((s, found) => s + found.length, 0), 0));
    let offset = 0;
    for (const row of scored.neighborIds) {
      for (const found of row) {
        ids.set(found, offset);
        offset += found.length;
      }
    }
  }
  return { rows, layers, classes, counts, nearest, mean, measured, ...(ids ? { ids } : {}), phases: scored.phases };
}

/** The inverse of packScores; the evidence views the packed arrays rather than copying them. */
export function unpackScores(packed: PackedScores): ScoredLayers {
  const { rows, layers, classes, counts, nearest, mean, measured, ids } = packed;
  const names = Object.keys(measured);
  const rowOf = (values: Float64Array, i: number) => values.subarray(i * layers, (i + 1) * layers);
  const evidence: Evidence[] = [];
  const neighborIds: Int32Array[][] = [];
  let offset = 0;
  for (let i = 0; i < rows; i++) {
    const rowCounts: Int32Array[] = [];
    const rowIds: Int32Array[] = [];
    for (let l = 0; l < layers; l++) {
      const c = counts.subarray((i * layers + l) * classes, (i * layers + l + 1) * classes);
      rowCounts.push(c);
      if (ids) {
        let found = 0;
        for (const n of c) found += n;
        rowIds.push(ids.subarray(offset, offset + found));
        offset += found;
      }
    }
    evidence.push({
      counts: rowCounts,
      nearestDistances: rowOf(nearest, i),
      meanDistances: rowOf(mean, i),
      measured: Object.fromEntries(names.map((name) => [name, rowOf(measured[name], i)])),
    });
    neighborIds.push(rowIds);
  }
  return { evidence, phases: packed.phases, ...(ids ? { neighborIds } : {}) };
}

/** The buffers a packed result can hand over to the receiving thread instead of copying. */
export function transferables(packed: PackedScores): ArrayBuffer[] {
  const arrays = [packed.counts, packed.nearest, packed.mean, ...Object.values(packed.measured), ...(packed.ids ? [packed.ids] : [])];
  return arrays.map((a) => a.buffer as ArrayBuffer);
}
