import type { NeighborIndex } from '../neighbors/neighbor-index.js';
import type { Matrix } from '../math/matrix.js';
import { evidenceFor, measureLayers, searchLayers } from './search.js';
import { releaseModels, type Evidence, type Signal, type SignalModels } from './signals/signal.js';
import { timed, type WorkPhase } from './work-phases.js';

/** What the indexed layers say about a batch of rows, before calibration. */
export interface ScoredLayers {
  /** One per row. */
  evidence: Evidence[];
  /** neighborIds[i][l]: the ids of row i's neighbours in layer l, nearest first; only when asked for. */
  neighborIds?: Int32Array[][];
  /** When each layer's search and the signal measurements ran (the search metric is read from them). */
  phases: WorkPhase[];
}

/**
 * The neighbour searches and signal measurements of a batch's activations: the costly, read-only
 * half of a prediction. It runs on the calling thread (InlineLayerScorer) or on worker threads
 * (ThreadedLayerScorer), and the detector cannot tell which.
 */
export interface LayerScorer {
  score(activations: Matrix[], rows: number, withNeighbors: boolean): Promise<ScoredLayers>;
  dispose(): void;
}

export interface LayerScorerParts {
  /** One index per layer, over L2-normalised reference activations. */
  indexes: NeighborIndex[];
  signals: readonly Signal[];
  /** The signals' reference models, fitted on raw reference activations. */
  models: SignalModels;
  referenceLabels: Int32Array;
  classes: number;
  k: number;
  layerNames: string[];
}

export class InlineLayerScorer implements LayerScorer {
  constructor(private readonly parts: LayerScorerParts) {}

  async score(activations: Matrix[], rows: number, withNeighbors: boolean): Promise<ScoredLayers> {
    const { indexes, signals, models, referenceLabels, classes, k, layerNames } = this.parts;
    const phases: WorkPhase[] = [];
    const neighbors = searchLayers(indexes, activations, k, layerNames, phases);
    const measured = await timed(phases, { name: 'signals', rows }, () => measureLayers(signals, models, activations));
    const evidence = evidenceFor(neighbors, measured, rows, referenceLabels, classes);
    const neighborIds = withNeighbors ? evidence.map((_, i) => neighbors.map((layer) => layer[i].ids)) : undefined;
    return { evidence, phases, ...(neighborIds ? { neighborIds } : {}) };
  }

  dispose(): void {
    for (const index of this.parts.indexes) index.dispose();
    // Nothing scores with them any more; a failure to free them is only a leak, never an answer lost.
    releaseModels(this.parts.signals, this.parts.models).catch(() => undefined);
  }
}

/** Neighbours found in layer l: fewer than k only when the reference set is smaller than k. */
export function neighborsFound(evidence: Evidence, layer: number): number {
  let found = 0;
  for (const c of evidence.counts[layer]) found += c;
  return found;
}
