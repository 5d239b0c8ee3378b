import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Matrix } from '../../src/math/matrix.js';
import { boxBlur, gaussianNoise, invert, rotate, rotate90, uniformNoise } from '../../src/reference/synthetic.js';
import { oodError } from './fixtures.js';

function mean(m: Matrix): number {
  let sum = 0;
  for (const v of m.data) sum += v;
  return sum / m.data.length;
}

function assertRange(m: Matrix, lo: number, hi: number): void {
  for (const v of m.data) assert.ok(v >= lo && v <= hi, `value ${v} outside [${lo}, ${hi}]`);
}

describe('synthetic OOD generators', () => {
  test('uniform noise is seeded, shaped and in [0,1)', () => {
    const a = uniformNoise(50, 1);
    assert.equal(a.rows, 50);
    assert.equal(a.cols, 784);
    assert.equal(a.data.length, 50 * 784);
    assertRange(a, 0, 1);
    assert.ok(a.data.every((v) => v < 1));
    assert.deepEqual(uniformNoise(50, 1), a);
    assert.notDeepEqual(uniformNoise(50, 2), a);
  });

  test('gaussian noise is seeded, clipped to [0,1] and centred on its mean', () => {
    const a = gaussianNoise(50, 3);
    assertRange(a, 0, 1);
    assert.deepEqual(gaussianNoise(50, 3), a);
    assert.notDeepEqual(gaussianNoise(50, 4), a);
    assert.ok(Math.abs(mean(a) - 0.5) < 0.01, `mean ${mean(a)}`);
    const dark = gaussianNoise(10, 3, { mean: 0.1, sd: 0.3 });
    assertRange(dark, 0, 1);
    assert.ok(dark.data.some((v) => v === 0), 'clipping should produce exact zeros');
  });

  test('invert maps x to 1 - x without touching its input', () => {
    const m = uniformNoise(3, 5);
    const copy = Float32Array.from(m.data);
    const inv = invert(m);
    assertRange(inv, 0, 1);
    assert.deepEqual(m.data, copy);
    for (let i = 0; i < m.data.length; i++) assert.ok(Math.abs(inv.data[i] + m.data[i] - 1) < 1e-6);
  });

  test('rotate90 turns clockwise, and four turns give the image back', () => {
    const m = uniformNoise(4, 6);
    const once = rotate90(m);
    // Clockwise: the bottom-left pixel goes to the top-left, the top-left to the top-right.
    assert.equal(once.data[0], m.data[27 * 28]);
    assert.equal(once.data[27], m.data[0]);
    assert.notDeepEqual(once, m);
    assert.deepEqual(rotate90(rotate90(rotate90(once))), m);
    assert.throws(() => rotate90({ data: new Float32Array(10), rows: 1, cols: 10 }), oodError('DATA_INVALID', '10 values'));
  });

  test('rotate turns counter-clockwise by any angle: 0 is the image, -90 is rotate90, and a small turn moves a pixel off its place', () => {
    const m = uniformNoise(2, 7);
    const near = (a: Matrix, b: Matrix) => a.data.every((v, i) => Math.abs(v - b.data[i]) < 1e-5);
    assert.ok(near(rotate(m, 0), m));
    assert.ok(near(rotate(m, -90), rotate90(m)));
    assert.ok(near(rotate(m, 90), rotate90(rotate90(rotate90(m)))));
    // A single bright pixel to the right of the centre goes up as it turns counter-clockwise.
    const dot: Matrix = { data: new Float32Array(784), rows: 1, cols: 784 };
    dot.data[13 * 28 + 24] = 1;
    const turned = rotate(dot, 30);
    const brightest = turned.data.indexOf(Math.max(...turned.data));
    assert.ok(Math.floor(brightest / 28) < 13, `row ${Math.floor(brightest / 28)}`);
    assertRange(rotate(m, 17), 0, 1);
  });

  test('boxBlur keeps flat images flat and stays in range', () => {
    const flat: Matrix = { data: new Float32Array(784).fill(0.3), rows: 1, cols: 784 };
    assert.ok(boxBlur(flat, 2).data.every((v) => Math.abs(v - 0.3) < 1e-6));
    const m = uniformNoise(2, 7);
    assert.deepEqual(boxBlur(m, 0), m);
    const blurred = boxBlur(m);
    assertRange(blurred, 0, 1);
    const variance = (x: Matrix) => {
      const mu = mean(x);
      let sum = 0;
      for (const v of x.data) sum += (v - mu) ** 2;
      return sum / x.data.length;
    };
    assert.ok(variance(blurred) < variance(m) / 3);
  });
});
