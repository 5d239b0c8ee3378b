import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ModelManifest } from '../../src/model/manifest.js';
import { elementProblem, gatherInput, inputLayout, MAX_EXACT_INTEGER, packedShape, type ModelInput } from '../../src/model/model-inputs.js';
import { describeOnnx } from '../../src/model/onnx/describe-onnx.js';
import { OnnxEmbedder } from '../../src/model/onnx/onnx-embedder.js';
import { OnnxFormatError } from '../../src/model/onnx/onnx-graph.js';
import { isOodError } from '../fixtures/assertions.js';
import { onnxTokenModel, tokenForward } from '../fixtures/onnx-token-model.js';

const T = 6;
const INPUTS: ModelInput[] = [
  { name: 'input_ids', dtype: 'int64', shape: [T] },
  { name: 'attention_mask', dtype: 'int64', shape: [T] },
];

function manifest(overrides: Partial<ModelManifest> = {}): ModelManifest {
  return {
    name: 'tokens',
    version: '1',
    input_shape: [2 * T],
    inputs: INPUTS,
    labels: ['a', 'b', 'c'],
    layers: ['pooled', 'hidden'],
    reference_set: 'tokens',
    output_layer: 'logits',
    runtime: 'onnx',
    output_activation: 'softmax',
    ...overrides,
  };
}

/** Rows of [ids..., mask...]: the packed layout of the two inputs. */
const ROWS = [
  { ids: [3, 7, 7, 1, 0, 0], mask: [1, 1, 1, 1, 0, 0] },
  { ids: [19, 2, 0, 0, 0, 0], mask: [1, 1, 0, 0, 0, 0] },
  { ids: [5, 5, 5, 5, 5, 5], mask: [1, 1, 1, 1, 1, 1] },
];
const packed = Float32Array.from(ROWS.flatMap((r) => [...r.ids, ...r.mask]));

describe('models with several inputs', () => {
  it('lays inputs out one after another in a packed row, and gathers each back', () => {
    const layout = inputLayout(INPUTS);
    assert.deepEqual([layout.offsets, layout.width], [[0, T], 2 * T]);
    assert.deepEqual(packedShape(INPUTS), [2 * T]);
    assert.deepEqual(packedShape([INPUTS[0]]), [T]);
    assert.deepEqual(Array.from(gatherInput(packed, 3, layout, 1)), ROWS.flatMap((r) => r.mask));
    assert.deepEqual(Array.from(gatherInput(packed, 3, layout, 0)), ROWS.flatMap((r) => r.ids));
  });

  it('refuses element values the input type cannot hold, or that float32 would not keep exact', () => {
    assert.equal(elementProblem(12, 'int64'), undefined);
    assert.equal(elementProblem(true, 'bool'), undefined);
    assert.match(elementProblem(1.5, 'int64') ?? '', /whole number/);
    assert.match(elementProblem(MAX_EXACT_INTEGER + 1, 'int32') ?? '', /whole number within/);
    assert.match(elementProblem(256, 'uint8') ?? '', /0 to 255/);
    assert.match(elementProblem(2, 'bool') ?? '', /true, false, 0 or 1/);
    assert.match(elementProblem('7', 'int64') ?? '', /got a string/);
    assert.match(elementProblem(Number.NaN, 'float32') ?? '', /got NaN/);
    assert.match(elementProblem(true, 'float32') ?? '', /got a boolean/);
  });

  it('feeds each input in its own type and gives the same layers and classes as a hand computation', async () => {
    const model = onnxTokenModel({ seqLen: T });
    const embedder = await OnnxEmbedder.create(model.bytes, manifest(), 'tokens.onnx');
    try {
      assert.deepEqual(embedder.inputs, INPUTS);
      const { probabilities, activations } = await embedder.embed(packed, ROWS.length);
      ROWS.forEach(({ ids, mask }, r) => {
        const expected = tokenForward(model, ids, mask);
        const pooled = activations[0].data.subarray(r * 5, r * 5 + 5);
        pooled.forEach((v, d) => assert.ok(Math.abs(v - expected.pooled[d]) < 1e-5, `row ${r} pooled[${d}]`));
        const max = Math.max(...expected.logits);
        const exp = Array.from(expected.logits, (v) => Math.exp(v - max));
        const sum = exp.reduce((a, b) => a + b, 0);
        exp.forEach((e, c) => assert.ok(Math.abs(probabilities.data[r * 3 + c] - e / sum) < 1e-5, `row ${r} class ${c}`));
      });
    } finally {
      embedder.dispose();
    }
  });

  it('takes free sequence lengths from the manifest, and refuses a manifest that disagrees with the file', async () => {
    const free = onnxTokenModel({ seqLen: T, freeSequence: true });
    const embedder = await OnnxEmbedder.create(free.bytes, manifest(), 'free.onnx');
    embedder.dispose();
    const swapped = [...INPUTS].reverse();
    await assert.rejects(OnnxEmbedder.create(free.bytes, manifest({ inputs: swapped }), 'free.onnx'), isOodError('MODEL_INVALID', 'free.onnx', 'attention_mask (int64), input_ids (int64)'));
    const floats = INPUTS.map((i) => ({ ...i, dtype: 'float32' as const }));
    await assert.rejects(OnnxEmbedder.create(free.bytes, manifest({ inputs: floats }), 'free.onnx'), isOodError('MODEL_INVALID', 'input_ids (float32)'));
    await assert.rejects(OnnxEmbedder.create(free.bytes, manifest({ inputs: undefined }), 'free.onnx'), isOodError('MODEL_INVALID', 'takes 2 inputs', 'lists no inputs'));
    const fixed = onnxTokenModel({ seqLen: T });
    const longer = INPUTS.map((i) => ({ ...i, shape: [T + 1] }));
    await assert.rejects(
      OnnxEmbedder.create(fixed.bytes, manifest({ inputs: longer, input_shape: [2 * T + 2] }), 'fixed.onnx'),
      isOodError('MODEL_INVALID', `takes [${T}] per instance for "input_ids"`),
    );
  });

  it('describes every input with its type, and does not index token ids as a raw input', async () => {
    const d = await describeOnnx(onnxTokenModel({ seqLen: T }).bytes, 'tokens.onnx');
    assert.deepEqual(d.inputs, INPUTS);
    assert.deepEqual(d.input, { name: 'input_ids', shape: [2 * T], width: 2 * T });
    assert.ok(!d.defaults.layers.includes('input'), d.defaults.layers.join(','));
    assert.ok(d.defaults.layers.includes('hidden'), d.defaults.layers.join(','));
    await assert.rejects(describeOnnx(onnxTokenModel({ freeSequence: true }).bytes, 'free.onnx'), (err: unknown) => {
      assert.ok(err instanceof OnnxFormatError);
      assert.match(err.message, /free dimensions.*--input-shape input_ids=128,attention_mask=128/);
      return true;
    });
    const given = await describeOnnx(onnxTokenModel({ freeSequence: true }).bytes, 'free.onnx', { input_ids: [4], attention_mask: [4] });
    assert.deepEqual(given.inputs.map((i) => i.shape), [[4], [4]]);
  });
});
