import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseLayers, MAX_DEFAULT_WIDTH, onnxRole, type LayerCandidate } from '../../src/model/layer-choice.js';

const layer = (name: string, op: string, shape: number[]): LayerCandidate => ({
  name,
  op,
  shape,
  width: shape.reduce((a, b) => a * b, 1),
  role: onnxRole(op, shape),
});

describe('the default choice of layers', () => {
  it('takes a CNN\'s penultimate activation, one of each equal pool/flatten pair, and its small input', () => {
    const cnn = [
      layer('relu1', 'Relu', [16, 28, 28]),
      layer('pool1', 'MaxPool', [16, 14, 14]),
      layer('relu2', 'Relu', [32, 14, 14]),
      layer('pool2', 'MaxPool', [32, 7, 7]),
      layer('flat', 'Flatten', [1568]),
      layer('fc1', 'Gemm', [128]),
      layer('relu3', 'Relu', [128]),
    ];
    const choice = chooseLayers(cnn, 784, 'input');
    assert.deepEqual(choice.layers, ['input', 'flat', 'relu3']);
    assert.match(choice.reasons[0], /^input: the raw input/);
    assert.match(choice.reasons.at(-1) ?? '', new RegExp(`wider than ${MAX_DEFAULT_WIDTH}.*relu1 \\(12544\\).*pool1 \\(3136\\).*relu2 \\(6272\\)`));
  });

  it('takes earlier activations of an MLP without pooling, even of equal widths, and leaves out a large input', () => {
    const mlp = [layer('h1', 'Relu', [128]), layer('h2', 'Relu', [128]), layer('h3', 'Relu', [64]), layer('out', 'Gemm', [10])];
    assert.deepEqual(chooseLayers(mlp, 3072, 'input').layers, ['h1', 'h2', 'h3']);
    const deeper = [layer('h0', 'Relu', [256]), ...mlp];
    assert.deepEqual(chooseLayers(deeper, 64, 'input').layers, ['input', 'h1', 'h2', 'h3']);
  });

  it('does not index a flatten of the raw input twice', () => {
    const linear = [layer('flat', 'Flatten', [16]), layer('hidden', 'Relu', [5])];
    assert.deepEqual(chooseLayers(linear, 16, 'input').layers, ['input', 'hidden']);
  });

  it('falls back to the input alone when no layer qualifies', () => {
    assert.deepEqual(chooseLayers([layer('logits', 'Gemm', [10])], 20, 'input').layers, ['input']);
  });
});
