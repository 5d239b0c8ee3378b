import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import { initBackend } from '../../src/model/backend.js';
import { mapLayout, parseLayer, pooledShape } from '../../src/model/layer-spec.js';
import { TfjsEmbedder } from '../../src/model/tfjs/tfjs-embedder.js';
import type { ModelManifest } from '../../src/model/manifest.js';
import { OnnxEmbedder } from '../../src/model/onnx/onnx-embedder.js';
import { isOodError } from '../fixtures/assertions.js';
import { onnxConvModel } from '../fixtures/onnx-model.js';
import { onnxTokenModel } from '../fixtures/onnx-token-model.js';

const { onnx } = onnxProto;
const T = 6;
const DIM = 5;

function tokenManifest(layers: string[]): ModelManifest {
  return {
    name: 'tokens',
    version: '1',
    input_shape: [2 * T],
    inputs: [
      { name: 'input_ids', dtype: 'int64', shape: [T] },
      { name: 'attention_mask', dtype: 'int64', shape: [T] },
    ],
    labels: ['a', 'b', 'c'],
    layers,
    reference_set: 'tokens',
    output_layer: 'logits',
    runtime: 'onnx',
    output_activation: 'softmax',
  };
}

const close = (actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) => {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) < 1e-5, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
};

describe('pooled layers', () => {
  it('reads "x:mean" and "x:first" as pooled, and any other colon as part of the name', () => {
    assert.deepEqual(parseLayer('enc:mean'), { name: 'enc:mean', value: 'enc', pooling: 'mean' });
    assert.deepEqual(parseLayer('a:b:first'), { name: 'a:b:first', value: 'a:b', pooling: 'first' });
    assert.deepEqual(parseLayer('dense/Relu:0'), { name: 'dense/Relu:0', value: 'dense/Relu:0' });
    assert.deepEqual(pooledShape([32, 64], 'mean'), { shape: [64] });
    assert.deepEqual(pooledShape([24, 16, 16], 'mean'), { shape: [24] });
    assert.deepEqual(pooledShape([16, 16, 24], 'mean'), { shape: [24] });
    assert.equal(mapLayout([8, 8, 8], 'hwc'), 'hwc');
    assert.equal(mapLayout([8, 8, 8], 'chw'), 'chw');
    assert.ok('problem' in pooledShape([24, 16, 16], 'first'));
    assert.ok('problem' in pooledShape([64], 'mean'));
  });

  it('pools a sequence over the tokens its mask keeps, or takes its first token, inside the graph', async () => {
    const model = onnxTokenModel({ seqLen: T, dim: DIM, vocab: 20 });
    const embedder = await OnnxEmbedder.create(model.bytes, tokenManifest(['tokens:mean', 'tokens:first', 'hidden']), 'tokens.onnx');
    try {
      const rows = [
        { ids: [3, 7, 9, 0, 0, 0], mask: [1, 1, 1, 0, 0, 0] },
        { ids: [4, 4, 4, 4, 4, 4], mask: [1, 1, 1, 1, 1, 1] },
      ];
      const packed = Float32Array.from(rows.flatMap((r) => [...r.ids, ...r.mask]));
      const { activations } = await embedder.embed(packed, rows.length);
      assert.deepEqual(activations.map((a) => a.cols), [DIM, DIM, 4]);
      rows.forEach(({ ids, mask }, r) => {
        const kept = ids.filter((_, t) => mask[t] === 1);
        const mean = Array.from({ length: DIM }, (_, d) => kept.reduce((sum, id) => sum + model.weights.emb[id * DIM + d], 0) / kept.length);
        close(activations[0].data.subarray(r * DIM, (r + 1) * DIM), mean, `row ${r} mean`);
        close(activations[1].data.subarray(r * DIM, (r + 1) * DIM), model.weights.emb.subarray(ids[0] * DIM, (ids[0] + 1) * DIM), `row ${r} first`);
      });
    } finally {
      embedder.dispose();
    }
  });

  it('pools a feature map [C, H, W] per channel over H and W', async () => {
    const manifest: ModelManifest = { ...tokenManifest(['fmap:mean']), inputs: undefined, input_shape: [1, 4, 4], name: 'conv', reference_set: 'conv' };
    const embedder = await OnnxEmbedder.create(onnxConvModel([1, -1], [0, 0.5]), manifest, 'conv.onnx');
    try {
      const x = Float32Array.from({ length: 16 }, (_, i) => i / 16);
      const { activations } = await embedder.embed(x, 1);
      const mean = (f: (v: number) => number) => Array.from(x).reduce((sum, v) => sum + f(v), 0) / 16;
      close(activations[0].data, [mean((v) => Math.max(0, v)), mean((v) => Math.max(0, 0.5 - v))], 'channel means');
    } finally {
      embedder.dispose();
    }
  });

  it('refuses a pooling the value\'s shape does not allow, naming the layer', async () => {
    await assert.rejects(OnnxEmbedder.create(onnxTokenModel({ seqLen: T }).bytes, tokenManifest(['hidden:mean']), 'tokens.onnx'), isOodError('MODEL_INVALID', 'layer "hidden:mean"', 'has shape [4]'));
    await assert.rejects(OnnxEmbedder.create(onnxTokenModel({ seqLen: T }).bytes, tokenManifest(['nothing:mean']), 'tokens.onnx'), isOodError('MODEL_INVALID', 'no value named "nothing"'));
  });

  it('pools a channels-last feature map [H, W, C] over H and W, in an ONNX graph and in a tfjs model', async () => {
    // The conv fixture with its map transposed to channels last, as a Keras model exported to ONNX keeps it.
    const model = onnx.ModelProto.decode(onnxConvModel([1, -1], [0, 0.5]));
    model.graph?.node?.push(onnx.NodeProto.create({ opType: 'Transpose', input: ['fmap'], output: ['fmap_hwc'], name: '/t', attribute: [{ name: 'perm', ints: [0, 2, 3, 1], type: 7 }] }));
    const manifest: ModelManifest = { ...tokenManifest(['fmap:mean', 'fmap_hwc:mean']), inputs: undefined, input_shape: [1, 4, 4], name: 'conv', reference_set: 'conv' };
    const embedder = await OnnxEmbedder.create(onnx.ModelProto.encode(model).finish(), manifest, 'conv.onnx');
    const x = Float32Array.from({ length: 16 }, (_, i) => i / 16);
    try {
      const { activations } = await embedder.embed(x, 1);
      close(activations[1].data, activations[0].data, 'channels last against channels first');
    } finally {
      embedder.dispose();
    }

    await initBackend('cpu');
    const net = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 1, activation: 'relu', name: 'conv', weights: [tf.tensor4d([1, -1], [1, 1, 1, 2]), tf.tensor1d([0, 0.5])] }),
        tf.layers.flatten({ name: 'flat' }),
        tf.layers.dense({ units: 3, activation: 'softmax', name: 'probs' }),
      ],
    });
    const tfjs = new TfjsEmbedder(net, { ...manifest, input_shape: [4, 4, 1], layers: ['conv:mean', 'flat'], output_layer: 'probs', output_activation: 'none', runtime: 'tfjs' });
    try {
      const { activations } = tfjs.embed(x, 1);
      const mean = (f: (v: number) => number) => Array.from(x).reduce((sum, v) => sum + f(v), 0) / 16;
      close(activations[0].data, [mean((v) => Math.max(0, v)), mean((v) => Math.max(0, 0.5 - v))], 'tfjs channel means');
      assert.equal(activations[1].cols, 32);
    } finally {
      tfjs.dispose();
    }
  });
});

