import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { packScores, unpackScores } from '../../src/detector/evidence-transfer.js';
import type { ScoredLayers } from '../../src/detector/layer-scorer.js';

const LAYERS = 2;
const CLASSES = 3;

/** Rows whose layers found different numbers of neighbours, as a reference set smaller than k gives. */
function scored(withNeighbors: boolean): ScoredLayers {
  const evidence = [
    { counts: [Int32Array.of(2, 0, 1), Int32Array.of(0, 3, 0)], nearestDistances: Float64Array.of(0.1, 0.2), meanDistances: Float64Array.of(0.3, 0.4), measured: { density: Float64Array.of(5, 6) } },
    { counts: [Int32Array.of(0, 1, 0), Int32Array.of(1, 1, 0)], nearestDistances: Float64Array.of(1, 2), meanDistances: Float64Array.of(3, 4), measured: { density: Float64Array.of(50, 60) } },
  ];
  const neighborIds = [
    [Int32Array.of(7, 8, 9), Int32Array.of(1, 2, 3)],
    [Int32Array.of(4), Int32Array.of(5, 6)],
  ];
  return { evidence, phases: [{ name: 'search', layer: 'a', rows: 2, startMs: 1, endMs: 2 }], ...(withNeighbors ? { neighborIds } : {}) };
}

describe('packScores / unpackScores', () => {
  it('round-trips evidence and neighbour ids, runs of unequal length included', () => {
    const original = scored(true);
    const packed = packScores(original, LAYERS, CLASSES);
    assert.equal(packed.counts.length, 2 * LAYERS * CLASSES);
    assert.deepEqual(Array.from(packed.ids ?? []), [7, 8, 9, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(unpackScores(packed), original);
  });

  it('leaves the ids out when they were not asked for', () => {
    const packed = packScores(scored(false), LAYERS, CLASSES);
    assert.equal(packed.ids, undefined);
    const back = unpackScores(packed);
    assert.equal('neighborIds' in back, false);
    assert.deepEqual(back, scored(false));
  });
});
