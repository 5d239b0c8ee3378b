import assert from 'node:assert/strict';
import { it } from 'node:test';
import { OnnxGram } from '../../src/compute/onnx-gram.js';
import { fitMahalanobis, fitMahalanobisWithGram, mahalanobisOutlierScores } from '../../src/math/mahalanobis.js';
import { gaussianRows } from '../support/gaussian-rows.js';

it('OnnxGram gives the product of a block with itself, entry by entry', async () => {
  const rows = 37;
  const cols = 5;
  const block = Float64Array.from(gaussianRows(rows, cols, 1));
  const gram = await OnnxGram.create(cols);
  try {
    const product = await gram.gram(block, rows);
    for (let a = 0; a < cols; a++) {
      for (let b = 0; b < cols; b++) {
        let sum = 0;
        for (let r = 0; r < rows; r++) sum += block[r * cols + a] * block[r * cols + b];
        assert.ok(Math.abs(product[a * cols + b] - sum) <= 1e-12 * Math.max(1, Math.abs(sum)), `entry ${a},${b}`);
      }
    }
    await assert.rejects(gram.gram(block.subarray(1), rows), /expected 37 x 5/);
  } finally {
    await gram.dispose();
  }
  await assert.rejects(gram.gram(new Float64Array(cols), 1), /disposed/);
});

it('a Mahalanobis fit with the covariance on onnxruntime matches the JavaScript fit', async () => {
  // Correlated columns and a dead one, as a ReLU layer has: the ridge path is exercised too.
  const rows = 3000;
  const cols = 40;
  const data = gaussianRows(rows, cols, 2);
  for (let i = 0; i < rows; i++) {
    data[i * cols + 1] = data[i * cols] * 2 + 0.01 * data[i * cols + 1];
    data[i * cols + 7] = 0;
  }
  const features = { data, rows, cols };
  const labels = Int32Array.from({ length: rows }, (_, i) => i % 4);
  const gram = await OnnxGram.create(cols);
  try {
    const fast = await fitMahalanobisWithGram(features, labels, 4, (b, r) => gram.gram(b, r));
    const reference = fitMahalanobis(features, labels, 4);
    assert.equal(fast.ridge, reference.ridge);
    fast.choleskyFactor.forEach((v, i) => assert.ok(Math.abs(v - reference.choleskyFactor[i]) <= 1e-9 * Math.max(1, Math.abs(reference.choleskyFactor[i])), `factor ${i}`));
    const probe = { data: gaussianRows(50, cols, 3), rows: 50, cols };
    const a = mahalanobisOutlierScores(fast, probe);
    const b = mahalanobisOutlierScores(reference, probe);
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= 1e-7 * b[i], `score ${i}: ${v} vs ${b[i]}`));
  } finally {
    await gram.dispose();
  }
});
