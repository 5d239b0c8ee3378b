import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { entanglementByLayer, measureEntanglement } from '../../src/analysis/entanglement.js';
import { seededSample } from '../../src/analysis/sample.js';
import type { Matrix } from '../../src/math/matrix.js';
import { createRng, gaussian } from '../../src/math/random.js';
import { optimalTemperature, snnl } from '../../src/math/snnl.js';
import { isOodError } from '../fixtures/assertions.js';

function matrix(rows: number[][]): Matrix {
  return { data: Float64Array.from(rows.flat()), rows: rows.length, cols: rows[0]?.length ?? 0 };
}

function noisy(rows: number, seed: number): { x: Matrix; labels: Int32Array } {
  const rng = createRng(seed);
  const labels = Int32Array.from({ length: rows }, (_, i) => i % 3);
  const x = matrix(Array.from(labels, (y) => [gaussian(rng) + y, gaussian(rng)]));
  return { x, labels };
}

describe('measureEntanglement', () => {
  it('at a fixed temperature is snnl()', () => {
    const { x, labels } = noisy(30, 1);
    const result = measureEntanglement(x, labels, { temperature: 0.7, distance: 'cosine' });
    assert.deepEqual(result, { snnl: snnl(x, labels, 0.7, 'cosine'), temperature: 0.7, distance: 'cosine', points: 30, skippedAnchors: 0 });
  });

  it('auto, the default, is optimalTemperature() with the squared Euclidean distance', () => {
    const { x, labels } = noisy(30, 2);
    const best = optimalTemperature(x, labels, 'euclidean');
    assert.deepEqual(measureEntanglement(x, labels), { ...best, distance: 'euclidean', points: 30, skippedAnchors: 0 });
  });

  it('counts the points whose class has no other member', () => {
    const result = measureEntanglement(matrix([[0], [1], [5], [9]]), [0, 0, 1, 2], { temperature: 1 });
    assert.equal(result.skippedAnchors, 2);
    // Only anchors 0 and 1 count: -log(e^-1 / (e^-1 + e^-25)) and -log(e^-1 / (e^-1 + e^-16)).
    const expected = (Math.log1p(Math.exp(-24)) + Math.log1p(Math.exp(-15))) / 2;
    assert.ok(Math.abs(result.snnl - expected) < 1e-15, `${result.snnl} vs ${expected}`);
  });

  it('refuses input on which SNNL means nothing', () => {
    assert.throws(() => measureEntanglement(matrix([[0]]), [0]), isOodError('DATA_INVALID', 'at least 2 points, got 1'));
    assert.throws(() => measureEntanglement(matrix([[0], [1]]), [0]), isOodError('DATA_INVALID', '2 embeddings but 1 labels'));
    assert.throws(() => measureEntanglement(matrix([[0], [1]]), [0, 1]), isOodError('DATA_INVALID', 'every class has a single member'));
    for (const temperature of [0, -1, Number.NaN, Infinity]) {
      assert.throws(() => measureEntanglement(matrix([[0], [1]]), [0, 0], { temperature }), isOodError('BAD_REQUEST', 'temperature must be'));
    }
  });
});

describe('entanglementByLayer', () => {
  it('measures each layer of the same labelled points', () => {
    const a = noisy(24, 3);
    const b = noisy(24, 4);
    const layers = entanglementByLayer(
      [
        { name: 'first', x: a.x },
        { name: 'second', x: b.x },
      ],
      a.labels,
      { temperature: 2 },
    );
    assert.deepEqual(layers, [
      { name: 'first', snnl: snnl(a.x, a.labels, 2), temperature: 2 },
      { name: 'second', snnl: snnl(b.x, a.labels, 2), temperature: 2 },
    ]);
  });
});

describe('seededSample', () => {
  const data = { x: { data: Float32Array.from({ length: 20 }, (_, i) => i), rows: 10, cols: 2 }, labels: Int32Array.from({ length: 10 }, (_, i) => 100 + i) };

  it('takes limit distinct rows in their original order, labels aligned, the same for the same seed', () => {
    const a = seededSample(data, 4, 7);
    assert.deepEqual([a.x.rows, a.x.cols, a.labels.length], [4, 2, 4]);
    const rows = Array.from(a.labels, (label) => label - 100);
    assert.deepEqual(rows, [...rows].sort((p, q) => p - q));
    assert.equal(new Set(rows).size, 4);
    rows.forEach((r, i) => assert.deepEqual([...a.x.data.subarray(i * 2, i * 2 + 2)], [2 * r, 2 * r + 1]));
    assert.deepEqual(seededSample(data, 4, 7), a);
    assert.notDeepEqual([...seededSample(data, 4, 8).labels], [...a.labels]);
  });

  it('returns all rows when the limit is not smaller, and rejects a bad limit', () => {
    assert.equal(seededSample(data, 10, 1), data);
    assert.equal(seededSample(data, 50, 1), data);
    assert.throws(() => seededSample(data, 0, 1), RangeError);
    assert.throws(() => seededSample(data, 1.5, 1), RangeError);
  });
});
