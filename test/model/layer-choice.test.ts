import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseLayers, MAX_DEFAULT_WIDTH, onnxRole, pooledCandidates, type LayerCandidate } from '../../src/model/layer-choice.js';

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
    // With the pooled views inspect offers, nothing changes: an earlier flat layer was found.
    assert.deepEqual(chooseLayers(pooledCandidates(cnn, () => false), 784, 'input').layers, ['input', 'flat', 'relu3']);
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

  it('gives a ResNet whose blocks are all wider than 2,048 values its last block at each resolution, pooled per channel', () => {
    const resnet = [
      layer('stem', 'Relu', [24, 32, 32]),
      layer('block1a', 'Relu', [24, 32, 32]),
      layer('block1b', 'Relu', [24, 32, 32]),
      layer('block2a', 'Relu', [48, 16, 16]),
      layer('block2b', 'Relu', [48, 16, 16]),
      layer('gap', 'GlobalAveragePool', [48, 1, 1]),
      layer('flat', 'Flatten', [48]),
    ];
    const plain = chooseLayers(resnet, 3072, 'input');
    assert.deepEqual(plain.layers, ['flat']);
    const pooled = chooseLayers(pooledCandidates(resnet, () => false), 3072, 'input');
    assert.deepEqual(pooled.layers, ['block1b:mean', 'block2b:mean', 'flat']);
    assert.match(pooled.reasons.join('\n'), /block2b:mean: a feature map \[48, 16, 16\] averaged per channel \(48 values\)/);
  });

  it('gives a transformer its last hidden state and earlier ones on the residual stream, one per block, averaged over the tokens', () => {
    const seq = (name: string, op = 'Add', width = 64): LayerCandidate => layer(name, op, [32, width]);
    const transformer = [
      seq('embeddings', 'LayerNormalization'),
      seq('l0/attn_out'),
      seq('l0/norm1', 'LayerNormalization'),
      seq('l0/ff_out', 'Add', 256),
      seq('l0/norm2', 'LayerNormalization'),
      seq('l1/norm1', 'LayerNormalization'),
      seq('l1/norm2', 'LayerNormalization'),
      seq('l2/norm1', 'LayerNormalization'),
      seq('l2/norm2', 'LayerNormalization'),
      layer('pooler', 'Tanh', [64]),
    ];
    const residual = new Set(['embeddings', 'l0/norm1', 'l0/norm2', 'l1/norm1', 'l1/norm2', 'l2/norm1']);
    const candidates = pooledCandidates(transformer, (name) => residual.has(name));
    assert.ok(candidates.some((c) => c.name === 'l2/norm2:first'));
    assert.ok(!candidates.some((c) => c.name === 'l0/attn_out:mean'), 'a bias Add inside a block is not offered pooled');
    assert.deepEqual(chooseLayers(candidates, Number.POSITIVE_INFINITY, 'input').layers, ['l0/norm2:mean', 'l1/norm2:mean', 'l2/norm2:mean', 'pooler']);
  });
});

