import assert from 'node:assert/strict';
import { it } from 'node:test';
import { OnnxLinear } from '../../src/compute/onnx-linear.js';
import { densitySignal, GEMM_MIN_WIDTH } from '../../src/detector/signals/density.js';
import { fitMahalanobis, mahalanobisOutlierScores } from '../../src/math/mahalanobis.js';
import { gaussianRows } from '../support/gaussian-rows.js';

it('OnnxLinear gives W x for every row, as a float64 loop does to rounding', async () => {
  const outputs = 7;
  const inputs = 300;
  const weights = Float64Array.from(gaussianRows(outputs, inputs, 1));
  const rows = 33;
  const x = gaussianRows(rows, inputs, 2);
  const linear = await OnnxLinear.create(weights, outputs, inputs);
  try {
    const y = await linear.apply(x, rows);
    assert.equal(y.length, rows * outputs);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < outputs; o++) {
        let sum = 0;
        let magnitude = 0;
        for (let i = 0; i < inputs; i++) {
          sum += weights[o * inputs + i] * x[r * inputs + i];
          magnitude += Math.abs(weights[o * inputs + i] * x[r * inputs + i]);
        }
        assert.ok(Math.abs(y[r * outputs + o] - sum) <= 1e-13 * magnitude, `row ${r}, output ${o}`);
      }
    }
    assert.deepEqual(await linear.apply(new Float32Array(0), 0), new Float64Array(0));
    await assert.rejects(linear.apply(x.subarray(1), rows), /expected 33 x 300/);
  } finally {
    await linear.dispose();
  }
  await assert.rejects(linear.apply(x, rows), /disposed/);
  await assert.rejects(OnnxLinear.create(weights, outputs, inputs + 1), /expected 7 x 301 weights/);
});

/** A lower-triangular dim x dim matrix of Gaussian entries. */
function lowerTriangular(dim: number, seed: number): Float64Array {
  const w = Float64Array.from(gaussianRows(dim, dim, seed));
  for (let i = 0; i < dim; i++) w.fill(0, i * dim + i + 1, (i + 1) * dim);
  return w;
}

it('a lower-triangular W, multiplied in bands, gives what the full product gives', async () => {
  // One band; two; seven equal ones; uneven ones; the cap of eight.
  for (const dim of [5, 130, 784, 257, 1100]) {
    const weights = lowerTriangular(dim, dim);
    const x = gaussianRows(9, dim, dim + 1);
    const banded = await OnnxLinear.create(weights, dim, dim, { lowerTriangular: true });
    const full = await OnnxLinear.create(weights, dim, dim);
    try {
      const a = await banded.apply(x, 9);
      const b = await full.apply(x, 9);
      a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= 1e-12 * Math.max(1, Math.abs(b[i])), `width ${dim}, value ${i}: ${v} vs ${b[i]}`));
    } finally {
      await banded.dispose();
      await full.dispose();
    }
  }
  await assert.rejects(OnnxLinear.create(new Float64Array(6), 2, 3, { lowerTriangular: true }), /square, got 2 x 3/);
  const upper = lowerTriangular(3, 1);
  upper[2] = 1;
  await assert.rejects(OnnxLinear.create(upper, 3, 3, { lowerTriangular: true }), /W\[0\]\[2\] = 1 is above the diagonal/);
});

it('a row gives the same bits alone as in a batch of any size: a prediction does not depend on its neighbours in a batch', async () => {
  for (const dim of [64, 784]) {
    const weights = lowerTriangular(dim, dim);
    const x = gaussianRows(32, dim, dim + 1);
    const linear = await OnnxLinear.create(weights, dim, dim, { lowerTriangular: true });
    try {
      const batch = await linear.apply(x, 32);
      for (const size of [1, 3, 4, 17]) {
        const part = await linear.apply(x.subarray(0, size * dim), size);
        assert.deepEqual(part, batch.subarray(0, size * dim), `width ${dim}, the first ${size} rows`);
      }
    } finally {
      await linear.dispose();
    }
  }
});

/** A fitted model `cols` wide, with correlated and dead columns as a ReLU layer has, and a probe with a NaN. */
function fitted(cols: number) {
  const rows = Math.max(2000, 3 * cols);
  const data = gaussianRows(rows, cols, 5);
  for (let i = 0; i < rows; i++) {
    data[i * cols + 3] = data[i * cols] - 0.001 * data[i * cols + 3];
    data[i * cols + 9] = 0;
  }
  const model = fitMahalanobis({ data, rows, cols }, Int32Array.from({ length: rows }, (_, i) => i % 3), 3);
  const probe = gaussianRows(20, cols, 6);
  probe[5 * cols + 2] = NaN;
  return { model, probe: { data: probe, rows: 20, cols } };
}

it('the density signal measures what mahalanobisOutlierScores computes, on the kernel from GEMM_MIN_WIDTH and in the loop below it, NaN included', async () => {
  const reference = densitySignal.reference;
  assert.ok(reference);
  for (const cols of [GEMM_MIN_WIDTH - 1, GEMM_MIN_WIDTH]) {
    const { model, probe } = fitted(cols);
    try {
      const measured = await reference.measure(model, probe);
      const expected = mahalanobisOutlierScores(model, probe);
      measured.forEach((v, i) => {
        if (i === 5) assert.ok(Number.isNaN(v), 'a NaN feature gives NaN');
        else if (cols < GEMM_MIN_WIDTH) assert.equal(v, expected[i], `row ${i}: the loop itself`);
        else assert.ok(Math.abs(v - expected[i]) <= 1e-9 * expected[i], `width ${cols}, row ${i}: ${v} vs ${expected[i]}`);
      });
      await assert.rejects(async () => reference.measure(model, { data: probe.data, rows: 10, cols: 2 * cols }), new RegExp(`expected ${cols} columns`));
    } finally {
      await reference.release?.(model);
    }
    await assert.rejects(async () => reference.measure(model, probe), /released/);
  }
});
