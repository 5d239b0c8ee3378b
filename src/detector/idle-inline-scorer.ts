import type { Matrix } from '../math/matrix.js';
import type { InlineLayerScorer, LayerScorer, ScoredLayers } from './layer-scorer.js';
import type { ThreadedLayerScorer } from './threaded-scorer.js';

/** Rows a lone batch may have and still be scored on the calling thread. */
export const INLINE_MAX_ROWS = 4;

/**
 * Scoring threads pay off under load, where a batch's searches run while the main thread parses
 * the next request and runs its forward pass. A lone request gains nothing from them and pays
 * the hop: a copy of its activations to a thread, the thread's wake-up, and a copy of the
 * evidence back. So a small batch that finds every thread idle is scored here, on graphs
 * memory-mapped from the same files the threads map (no second copy in memory); anything else
 * goes to the threads. Both score with the same code on the same files, so the answer is the
 * same either way.
 */
export class IdleInlineScorer implements LayerScorer {
  constructor(
    private readonly here: InlineLayerScorer,
    private readonly threads: ThreadedLayerScorer,
    private readonly maxRows = INLINE_MAX_ROWS,
  ) {}

  score(activations: Matrix[], rows: number, withNeighbors: boolean): Promise<ScoredLayers> {
    if (rows <= this.maxRows && this.threads.idle) return this.here.score(activations, rows, withNeighbors);
    return this.threads.score(activations, rows, withNeighbors);
  }

  dispose(): void {
    this.threads.dispose();
    this.here.dispose();
  }
}
