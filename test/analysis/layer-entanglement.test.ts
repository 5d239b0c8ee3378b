import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { entanglementByLayer } from '../../src/analysis/entanglement.js';
import { layerActivations, modelLayerEntanglement } from '../../src/analysis/layer-entanglement.js';
import type { Matrix } from '../../src/math/matrix.js';
import { initBackend } from '../../src/model/backend.js';
import { TfjsEmbedder } from '../../src/model/tfjs/tfjs-embedder.js';
import { isOodError } from '../fixtures/assertions.js';
import { buildTinyModel, TINY, tinyInputs, tinyManifest } from '../fixtures/tiny-model.js';

describe('layerActivations and modelLayerEntanglement', () => {
  let model: tf.LayersModel;
  const rows = 45;
  const x: Matrix = { data: tinyInputs(rows, 21), rows, cols: TINY.inputSize };
  const labels = Int32Array.from({ length: rows }, (_, i) => i % TINY.classes);
  const layers = ['input', 'hidden1', 'hidden2'];

  before(async () => {
    await initBackend('wasm');
    model = buildTinyModel(13);
  });
  after(() => {
    model.dispose();
  });

  it('gives the TfjsEmbedder\'s activations, in any chunking, and leaks no tensor', () => {
    const before = tf.memory().numTensors;
    const whole = layerActivations(model, layers, x);
    const chunked = layerActivations(model, layers, x, 8);
    assert.equal(tf.memory().numTensors, before);
    const expected = new TfjsEmbedder(model, tinyManifest({ layers })).embed(x.data as Float32Array, rows).activations;
    assert.deepEqual(
      whole.map((m) => [m.rows, m.cols]),
      [
        [rows, TINY.inputSize],
        [rows, TINY.hidden[0]],
        [rows, TINY.hidden[1]],
      ],
    );
    whole.forEach((m, l) => {
      assert.deepEqual([...m.data], [...expected[l].data], layers[l]);
      assert.deepEqual([...chunked[l].data], [...m.data], `${layers[l]} chunked`);
    });
  });

  it('keeps the order the layers are asked in', () => {
    const [h2, input, h1] = layerActivations(model, ['hidden2', 'input', 'hidden1'], x);
    assert.deepEqual([h2.cols, input.cols, h1.cols], [TINY.hidden[1], TINY.inputSize, TINY.hidden[0]]);
    assert.equal(input, x);
  });

  it('measures each layer at its optimal temperature', () => {
    const before = tf.memory().numTensors;
    const measured = modelLayerEntanglement(model, ['hidden1', 'hidden2'], { x, labels });
    assert.equal(tf.memory().numTensors, before);
    const [h1, h2] = layerActivations(model, ['hidden1', 'hidden2'], x);
    const expected = entanglementByLayer(
      [
        { name: 'hidden1', x: h1 },
        { name: 'hidden2', x: h2 },
      ],
      labels,
    );
    assert.deepEqual(measured, expected);
    for (const m of measured) assert.ok(Number.isFinite(m.snnl) && m.snnl > 0 && m.temperature > 0, JSON.stringify(m));
  });

  it('names the model\'s layers when asked for one it lacks', () => {
    assert.throws(
      () => layerActivations(model, ['hidden9'], x),
      isOodError('MODEL_INVALID', 'no layer "hidden9"', 'pixels, hidden1, hidden2, logits, probs'),
    );
  });
});
