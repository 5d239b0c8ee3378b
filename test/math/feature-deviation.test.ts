import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { columnStd, featureDeviations } from '../../src/math/feature-deviation.js';

describe('columnStd', () => {
  it('gives each column its population standard deviation', () => {
    const std = columnStd({ rows: 4, cols: 2, data: Float32Array.from([1, 5, 3, 5, 5, 5, 7, 5]) });
    assert.ok(Math.abs(std[0] - Math.sqrt(5)) < 1e-12);
    assert.equal(std[1], 0);
  });
});

describe('featureDeviations', () => {
  it('scales each gap to the neighbours by the feature spread and marks the largest', () => {
    const x = [10, 0, 3, 100];
    const neighbors = [
      [0, 0, 1, 0],
      [2, 0, 3, 0],
    ];
    const out = featureDeviations(x, neighbors, [1, 1, 1, 1000], 2);
    assert.deepEqual(
      out.map((f) => [f.index, f.neighbor_mean, f.deviation, f.marked]),
      [
        [0, 1, 9, true],
        [1, 0, 0, false],
        [2, 2, 1, true],
        [3, 0, 0.1, false],
      ],
    );
  });

  it('ranks a difference in a feature that never varies first, and marks no feature that matches', () => {
    const out = featureDeviations([1, 5], [[1, 4]], [0, 2], 3);
    assert.equal(out[0].deviation, 0);
    assert.equal(out[0].marked, false);
    assert.equal(out[1].deviation, 0.5);
    const constant = featureDeviations([2, 5], [[1, 5]], [0, 2], 1);
    assert.ok(Number.isFinite(constant[0].deviation) && constant[0].deviation > 1e5);
    assert.deepEqual(constant.map((f) => f.marked), [true, false]);
  });
});
