import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ModelManifest } from '../../src/model/manifest.js';
import { writeModelFolder } from '../../src/model/model-folder.js';
import { loadModel } from '../../src/model/model-store.js';
import { describeOnnx } from '../../src/model/onnx/describe-onnx.js';
import { OnnxEmbedder } from '../../src/model/onnx/onnx-embedder.js';
import { OnnxFormatError } from '../../src/model/onnx/onnx-graph.js';
import { isOodError } from '../fixtures/assertions.js';
import { mlpForward, onnxMlp } from '../fixtures/onnx-model.js';
import { makeTmp } from '../fixtures/tiny-model.js';

function manifest(overrides: Partial<ModelManifest> = {}): ModelManifest {
  return {
    name: 'mlp',
    version: '1',
    input_shape: [4],
    labels: ['a', 'b', 'c'],
    layers: ['input', 'hidden'],
    reference_set: 'mlp',
    output_layer: 'logits',
    runtime: 'onnx',
    output_activation: 'softmax',
    ...overrides,
  };
}

function softmax(logits: Float64Array): number[] {
  const max = Math.max(...logits);
  const e = Array.from(logits, (v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

const ROWS = 5;
const inputs = Float32Array.from({ length: ROWS * 4 }, (_, i) => Math.sin(i * 1.7) * 2);

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-5): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance, `[${i}] ${actual[i]} vs ${expected[i]}`);
  }
}

describe('ONNX models on onnxruntime', () => {
  const mlp = onnxMlp();

  it('gives the graph\'s hidden layer, its logits through softmax, and the raw input, as a hand computation does', async () => {
    const embedder = await OnnxEmbedder.create(mlp.bytes, manifest(), 'mlp.onnx', ['logits']);
    try {
      const { probabilities, activations, extras } = await embedder.embed(inputs, ROWS);
      assert.deepEqual([probabilities.rows, probabilities.cols], [ROWS, 3]);
      assert.deepEqual(activations.map((a) => [a.rows, a.cols]), [[ROWS, 4], [ROWS, 6]]);
      assert.deepEqual(Array.from(activations[0].data), Array.from(inputs));
      for (let r = 0; r < ROWS; r++) {
        const expected = mlpForward(mlp, inputs.subarray(r * 4, r * 4 + 4));
        assertClose(activations[1].data.subarray(r * 6, r * 6 + 6), expected.hidden);
        assertClose(probabilities.data.subarray(r * 3, r * 3 + 3), softmax(expected.logits));
        // The extra layer is the raw logits: the softmax applies to the class output only.
        assertClose(extras[0].data.subarray(r * 3, r * 3 + 3), expected.logits);
      }
    } finally {
      embedder.dispose();
    }
  });

  it('takes probabilities as they are when the graph ends in a Softmax', async () => {
    const withSoftmax = onnxMlp({ softmax: true });
    const embedder = await OnnxEmbedder.create(withSoftmax.bytes, manifest({ output_layer: 'probs', output_activation: 'none' }), 'm.onnx');
    try {
      const { probabilities } = await embedder.embed(inputs, ROWS);
      const expected = mlpForward(withSoftmax, inputs.subarray(0, 4));
      assertClose(probabilities.data.subarray(0, 3), softmax(expected.logits));
    } finally {
      embedder.dispose();
    }
  });

  it('runs a file whose batch dimension is fixed at 1 one row at a time, with the same answers', async () => {
    const fixed = onnxMlp({ fixedBatch: true });
    const free = await OnnxEmbedder.create(mlp.bytes, manifest(), 'free.onnx');
    const single = await OnnxEmbedder.create(fixed.bytes, manifest(), 'fixed.onnx');
    try {
      const a = await free.embed(inputs, ROWS);
      const b = await single.embed(inputs, ROWS);
      assertClose(b.probabilities.data, a.probabilities.data);
      assertClose(b.activations[1].data, a.activations[1].data);
    } finally {
      free.dispose();
      single.dispose();
    }
  });

  it('refuses garbage, truncated files, unknown layers and a class count that does not match, naming the file', async () => {
    await assert.rejects(OnnxEmbedder.create(Buffer.from('not a model at all'), manifest(), 'junk.onnx'), isOodError('MODEL_INVALID', 'junk.onnx', 'not an ONNX model'));
    await assert.rejects(OnnxEmbedder.create(mlp.bytes.subarray(0, 60), manifest(), 'cut.onnx'), isOodError('MODEL_INVALID', 'cut.onnx'));
    await assert.rejects(OnnxEmbedder.create(mlp.bytes, manifest({ layers: ['hidden9'] }), 'm.onnx'), isOodError('MODEL_INVALID', 'm.onnx', '"hidden9"'));
    await assert.rejects(
      OnnxEmbedder.create(mlp.bytes, manifest({ labels: ['a', 'b'] }), 'm.onnx'),
      isOodError('MODEL_INVALID', 'm.onnx', 'outputs 3 classes', '2 labels'),
    );
    await assert.rejects(OnnxEmbedder.create(mlp.bytes, manifest({ input_shape: [5] }), 'm.onnx'), isOodError('MODEL_INVALID', 'm.onnx', '(4 values)'));
  });

  it('describes the graph: input, class output, candidate layers with shapes, and a default choice', async () => {
    const d = await describeOnnx(onnxMlp({ inputs: 4, hidden: 6 }).bytes, 'm.onnx');
    assert.deepEqual(d.input, { name: 'x', shape: [4], width: 4 });
    assert.deepEqual(d.classOutput.name, 'logits');
    assert.equal(d.classOutput.classes, 3);
    assert.equal(d.classOutput.activation, 'softmax');
    assert.deepEqual(
      d.candidates.map((c) => [c.name, c.op, c.shape, c.role]),
      [['mm1', 'MatMul', [6], 'linear'], ['pre1', 'Add', [6], 'linear'], ['hidden', 'Relu', [6], 'representation'], ['mm2', 'MatMul', [3], 'linear']],
    );
    assert.deepEqual(d.defaults.layers, ['input', 'hidden']);
    const probs = await describeOnnx(onnxMlp({ softmax: true }).bytes, 'p.onnx');
    assert.equal(probs.classOutput.name, 'probs');
    assert.equal(probs.classOutput.activation, 'none');
    await assert.rejects(describeOnnx(Buffer.from([1, 2, 3]), 'x.onnx'), OnnxFormatError);
  });

  describe('as a model folder', () => {
    let tmp: Awaited<ReturnType<typeof makeTmp>>;
    before(async () => {
      tmp = await makeTmp('onnx-store');
      await writeModelFolder(join(tmp.dir, 'mlp'), { 'model.onnx': mlp.bytes }, manifest());
    });
    after(() => tmp.cleanup());

    it('loads through the manifest\'s runtime, keeps the file byte for byte, and checks its checksum', async () => {
      const loaded = await loadModel(tmp.dir, 'mlp');
      try {
        assert.equal(loaded.model.backend, 'onnxruntime-cpu');
        assert.ok(Buffer.from(mlp.bytes).equals(await readFile(join(tmp.dir, 'mlp', 'model.onnx'))));
        const { probabilities } = await loaded.model.embed(inputs, ROWS);
        assertClose(probabilities.data.subarray(0, 3), softmax(mlpForward(mlp, inputs.subarray(0, 4)).logits));
      } finally {
        loaded.model.dispose();
      }
      const flipped = Buffer.from(mlp.bytes);
      flipped[flipped.length - 5] ^= 1;
      await writeFile(join(tmp.dir, 'mlp', 'model.onnx'), flipped);
      await assert.rejects(loadModel(tmp.dir, 'mlp'), isOodError('MODEL_INVALID', join(tmp.dir, 'mlp', 'model.onnx'), 'fails its checksum'));
    });
  });
});
