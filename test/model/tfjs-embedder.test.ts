import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { Matrix } from '../../src/math/matrix.js';
import { initBackend } from '../../src/model/backend.js';
import { TfjsEmbedder } from '../../src/model/tfjs/tfjs-embedder.js';
import { isOodError } from '../fixtures/assertions.js';
import { buildTinyModel, TINY, tinyInputs, tinyManifest } from '../fixtures/tiny-model.js';

function shape(m: Matrix): [number, number, number] {
  return [m.rows, m.cols, m.data.length];
}

/** relu(x W + b) for one dense layer, in float64 from the layer's own weights. */
function denseRelu(x: Matrix, kernel: Float32Array, bias: Float32Array, units: number): Float64Array {
  const out = new Float64Array(x.rows * units);
  for (let r = 0; r < x.rows; r++) {
    for (let u = 0; u < units; u++) {
      let sum = bias[u];
      for (let i = 0; i < x.cols; i++) sum += x.data[r * x.cols + i] * kernel[i * units + u];
      out[r * units + u] = Math.max(0, sum);
    }
  }
  return out;
}

describe('TfjsEmbedder', () => {
  let model: tf.LayersModel;
  const rows = 7;
  const inputs = tinyInputs(rows, 11);

  before(async () => {
    await initBackend('wasm');
    model = buildTinyModel(5);
    // Non-zero biases, so the hand computation below checks them too.
    model.getLayer('hidden1').setWeights([model.getLayer('hidden1').getWeights()[0], tf.tensor1d([0.1, -0.2, 0.3, 0, 0.5])]);
  });
  after(() => {
    model.dispose();
  });

  it('returns softmax probabilities equal to the model output, rows summing to 1', () => {
    const embedder = new TfjsEmbedder(model, tinyManifest());
    assert.equal(embedder.inputSize, TINY.inputSize);
    const { probabilities } = embedder.embed(inputs, rows);
    assert.deepEqual(shape(probabilities), [rows, TINY.classes, rows * TINY.classes]);
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let j = 0; j < TINY.classes; j++) {
        const p = probabilities.data[r * TINY.classes + j];
        assert.ok(p > 0 && p < 1, `p=${p}`);
        sum += p;
      }
      assert.ok(Math.abs(sum - 1) < 1e-6, `row ${r} sums to ${sum}`);
    }
    const direct = tf.tidy(() => (model.predict(tf.tensor2d(inputs, [rows, TINY.inputSize])) as tf.Tensor).dataSync());
    assert.deepEqual(Array.from(probabilities.data), Array.from(direct));
  });

  it('returns one activation matrix per manifest layer, in manifest order, with "input" the input itself', () => {
    const embedder = new TfjsEmbedder(model, tinyManifest({ layers: ['hidden2', 'input', 'hidden1', 'logits'] }));
    const { activations } = embedder.embed(inputs, rows);
    assert.equal(activations.length, 4);
    assert.deepEqual(activations.map(shape), [
      [rows, 4, rows * 4],
      [rows, 6, rows * 6],
      [rows, 5, rows * 5],
      [rows, 3, rows * 3],
    ]);
    assert.deepEqual(Array.from(activations[1].data), Array.from(inputs));

    // hidden1 = relu(x W1 + b1), checked against a float64 computation from the weights.
    const [kernel, bias] = model.getLayer('hidden1').getWeights().map((w) => w.dataSync() as Float32Array);
    const expected = denseRelu({ data: inputs, rows, cols: TINY.inputSize }, kernel, bias, 5);
    let zeros = 0;
    for (let i = 0; i < expected.length; i++) {
      assert.ok(Math.abs(activations[2].data[i] - expected[i]) < 1e-5, `hidden1[${i}]: ${activations[2].data[i]} vs ${expected[i]}`);
      if (activations[2].data[i] === 0) zeros++;
    }
    // ReLU really clips some units and passes others.
    assert.ok(zeros > 0 && zeros < expected.length, `zeros=${zeros}`);
    // hidden2 is computed from hidden1 in the same pass.
    const [k2, b2] = model.getLayer('hidden2').getWeights().map((w) => w.dataSync() as Float32Array);
    const expected2 = denseRelu(activations[2], k2, b2, 4);
    for (let i = 0; i < expected2.length; i++) assert.ok(Math.abs(activations[0].data[i] - expected2[i]) < 1e-5);
  });

  it('gives identical results however the batch is chunked', () => {
    const embedder = new TfjsEmbedder(model, tinyManifest({ layers: ['input', 'hidden1', 'hidden2'] }));
    const whole = embedder.embed(inputs, rows, 100);
    for (const chunkRows of [1, 2, 3, 7]) {
      const chunked = embedder.embed(inputs, rows, chunkRows);
      assert.deepEqual(shape(chunked.probabilities), shape(whole.probabilities));
      assert.deepEqual(Array.from(chunked.probabilities.data), Array.from(whole.probabilities.data), `chunkRows ${chunkRows}`);
      assert.equal(chunked.activations.length, 3);
      chunked.activations.forEach((m, l) => {
        assert.deepEqual(shape(m), shape(whole.activations[l]));
        assert.deepEqual(Array.from(m.data), Array.from(whole.activations[l].data), `layer ${l}, chunkRows ${chunkRows}`);
      });
    }
  });

  it('rejects a manifest naming an unknown layer, listing the known ones', () => {
    assert.throws(
      () => new TfjsEmbedder(model, tinyManifest({ layers: ['input', 'hidden3'] })),
      isOodError('MODEL_INVALID', '"hidden3"', 'pixels, hidden1, hidden2, logits, probs'),
    );
  });

  it('rejects an unknown output layer', () => {
    assert.throws(() => new TfjsEmbedder(model, tinyManifest({ output_layer: 'softmax' })), isOodError('MODEL_INVALID', '"softmax"'));
  });

  it('rejects a label count that differs from the model classes', () => {
    assert.throws(
      () => new TfjsEmbedder(model, tinyManifest({ labels: ['a', 'b'] })),
      isOodError('MODEL_INVALID', 'outputs 3 classes', 'lists 2 labels'),
    );
    assert.throws(
      () => new TfjsEmbedder(model, tinyManifest({ labels: ['a', 'b', 'c', 'd'] })),
      isOodError('MODEL_INVALID', 'outputs 3 classes', 'lists 4 labels'),
    );
  });

  it('rejects a manifest input_shape the model does not take', () => {
    assert.throws(
      () => new TfjsEmbedder(model, tinyManifest({ input_shape: [2, 4] })),
      isOodError('MODEL_INVALID', 'has 8 values', 'takes 6'),
    );
  });

  it('feeds the model its own input shape when the manifest lays the same values out differently', () => {
    // A manifest saying [2, 3] for this 6-input MLP once passed here and then failed every
    // forward pass with a tfjs ValueError.
    const flat = new TfjsEmbedder(model, tinyManifest()).embed(inputs, rows);
    const grid = new TfjsEmbedder(model, tinyManifest({ input_shape: [2, 3] })).embed(inputs, rows);
    assert.deepEqual(grid.probabilities, flat.probabilities);
    assert.deepEqual(grid.activations, flat.activations);
  });

  it('rejects an input of the wrong length with INVALID_INSTANCE', () => {
    const embedder = new TfjsEmbedder(model, tinyManifest());
    assert.throws(() => embedder.embed(new Float32Array(13), 2), isOodError('INVALID_INSTANCE', 'expected 12 values, got 13'));
    assert.throws(() => embedder.embed(inputs, rows + 1), isOodError('INVALID_INSTANCE', `expected ${(rows + 1) * 6} values`));
  });

  it('rejects an empty batch rather than returning undefined matrices', () => {
    const embedder = new TfjsEmbedder(model, tinyManifest());
    assert.throws(() => embedder.embed(new Float32Array(0), 0), isOodError('INVALID_INSTANCE', 'at least one row'));
  });

  it('leaves no tensors behind', () => {
    const embedder = new TfjsEmbedder(model, tinyManifest({ layers: ['input', 'hidden1', 'hidden2', 'logits'] }));
    embedder.embed(inputs, rows); // warm-up: anything lazily created on first use
    const before = tf.memory().numTensors;
    const result = embedder.embed(inputs, rows, 2);
    embedder.embed(inputs, rows, 100);
    assert.throws(() => embedder.embed(new Float32Array(5), 1));
    assert.equal(tf.memory().numTensors, before);
    assert.equal(result.activations.length, 4);
  });
});
