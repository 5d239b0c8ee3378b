import assert from 'node:assert/strict';
import { it } from 'node:test';
import { IdleInlineScorer, INLINE_MAX_ROWS } from '../../src/detector/idle-inline-scorer.js';
import type { InlineLayerScorer, ScoredLayers } from '../../src/detector/layer-scorer.js';
import type { ThreadedLayerScorer } from '../../src/detector/threaded-scorer.js';

/** A scorer that records who scored what, standing in for either side. */
function recorder(name: string, calls: string[], extra: Record<string, unknown> = {}) {
  return {
    ...extra,
    score: (_a: unknown, rows: number) => {
      calls.push(`${name}:${rows}`);
      return Promise.resolve({ evidence: [], phases: [] } as ScoredLayers);
    },
    dispose: () => calls.push(`${name}:disposed`),
  };
}

it('scores a small batch here while every thread is idle, and anything else on the threads', async () => {
  const calls: string[] = [];
  const state = { idle: true };
  const threads = recorder('threads', calls);
  Object.defineProperty(threads, 'idle', { get: () => state.idle });
  const scorer = new IdleInlineScorer(recorder('here', calls) as unknown as InlineLayerScorer, threads as unknown as ThreadedLayerScorer);
  await scorer.score([], 1, false);
  await scorer.score([], INLINE_MAX_ROWS, false);
  await scorer.score([], INLINE_MAX_ROWS + 1, false);
  state.idle = false;
  await scorer.score([], 1, false);
  scorer.dispose();
  assert.deepEqual(calls, ['here:1', `here:${INLINE_MAX_ROWS}`, `threads:${INLINE_MAX_ROWS + 1}`, 'threads:1', 'threads:disposed', 'here:disposed']);
});
