import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { searchSecondsByLayer, type WorkPhase } from '../../src/detector/work-phases.js';

describe('searchSecondsByLayer: the search metric, read from the phases', () => {
  const phases: WorkPhase[] = [
    { name: 'embed', rows: 4, startMs: 0, endMs: 50 },
    // Two slices, each searching both layers.
    { name: 'search', layer: 'a', rows: 2, startMs: 50, endMs: 60 },
    { name: 'search', layer: 'b', rows: 2, startMs: 60, endMs: 90 },
    { name: 'search', layer: 'a', rows: 2, startMs: 100, endMs: 105 },
    { name: 'search', layer: 'b', rows: 2, startMs: 105, endMs: 125 },
    { name: 'signals', rows: 4, startMs: 125, endMs: 200 },
    { name: 'score', rows: 4, startMs: 200, endMs: 210 },
  ];

  it('sums each layer\'s searches over the slices, in seconds, and counts nothing else', () => {
    const seconds = searchSecondsByLayer(phases);
    assert.deepEqual(Object.keys(seconds).sort(), ['a', 'b']);
    assert.ok(Math.abs(seconds.a - 0.015) < 1e-12, String(seconds.a));
    assert.ok(Math.abs(seconds.b - 0.05) < 1e-12, String(seconds.b));
  });

  it('charges a request its share of a batch', () => {
    const quarter = searchSecondsByLayer(phases, 0.25);
    assert.ok(Math.abs(quarter.a - 0.015 / 4) < 1e-12);
    assert.deepEqual(searchSecondsByLayer([]), {});
  });
});
