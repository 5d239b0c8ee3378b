import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { pino } from 'pino';
import type { Config } from '../../src/config.js';
import { loadDetector } from '../../src/detector/load-detector.js';
import type { Detector } from '../../src/detector/types.js';
import { detectorSettings } from '../../src/detector-settings.js';
import { evaluateModel } from '../../src/evaluation/evaluate-model.js';
import { createRng } from '../../src/math/random.js';
import { addModel, type AddModelOptions } from '../../src/onboarding/add-model.js';
import { addModelAsFeatures, EXPORTED_FILE } from '../../src/onboarding/as-features.js';
import { npyBytes } from '../../src/reference/sources/npy-write.js';
import { featuresInstance } from '../../scripts/bench/exported-outputs.js';
import { isOodError } from '../fixtures/assertions.js';
import { blobs, configIn, onnxModelOptions } from '../fixtures/blobs.js';
import { dense, onnxMlp } from '../fixtures/onnx-model.js';
import { onnxTokenModel, tokenForward } from '../fixtures/onnx-token-model.js';
import { makeTmp } from '../fixtures/tiny-model.js';
import { FakeHost } from '../http/fake-detector.js';
import { buildTestApp } from '../http/helpers.js';

const log = pino({ level: 'silent' });

type Prediction = { class_index: number; p_values: Record<string, number>; probabilities: number[] };
type App = Awaited<ReturnType<typeof buildTestApp>>;

async function serving(config: Config, model: string): Promise<{ app: App; detector: Detector }> {
  const detector = await loadDetector(detectorSettings({ ...config, model }), log);
  const app = await buildTestApp(new FakeHost(detector), { bodyLimitBytes: 1_000_000, maxBatch: 64 });
  return { app, detector };
}

async function predict(app: App, instances: unknown[]): Promise<Prediction[]> {
  const response = await app.inject({ method: 'POST', url: '/predict', payload: { instances } });
  assert.equal(response.statusCode, 200, response.body);
  return response.json().predictions as Prediction[];
}

/** The exported file's outputs for these feeds: what a model server running it returns. */
async function serverOutputs(file: string, feeds: Record<string, ort.Tensor>): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(await readFile(file));
  try {
    const results = await session.run(feeds);
    return Object.fromEntries(Object.entries(results).map(([name, t]) => [name, Float32Array.from(t.data as Float32Array)]));
  } finally {
    await session.release();
  }
}

function assertSameScores(inProcess: Prediction[], features: Prediction[]): void {
  assert.equal(features.length, inProcess.length);
  // Rows that all score alike would make the comparison say little.
  assert.ok(new Set(inProcess.map((p) => p.p_values.combined)).size > 3, 'the rows\' p-values differ among themselves');
  inProcess.forEach((expected, i) => {
    assert.equal(features[i].class_index, expected.class_index, `row ${i}`);
    assert.deepEqual(Object.keys(features[i].p_values).sort(), Object.keys(expected.p_values).sort());
    for (const [signal, p] of Object.entries(expected.p_values)) {
      assert.ok(Math.abs(features[i].p_values[signal] - p) <= 1e-5, `row ${i} ${signal}: ${features[i].p_values[signal]} vs ${p}`);
    }
    expected.probabilities.forEach((p, c) => assert.ok(Math.abs(features[i].probabilities[c] - p) <= 1e-6, `row ${i} class ${c}`));
  });
}

const pythonOnnx = spawnSync('/usr/bin/python3', ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0;
const PYTHON_ONNX_SKIP = pythonOnnx || process.env.CI ? false : 'python3-onnx is not installed: the exported file is not run through onnx.checker';

describe('a features model scores what the in-process model would', () => {
  let tmp: Awaited<ReturnType<typeof makeTmp>>;
  let config: Config;

  before(async () => {
    tmp = await makeTmp('features-model');
    // Inserts racing on several threads give a slightly different graph each build, and so a few
    // borderline p-values; built on one thread, two models over the same vectors share one graph.
    config = { ...(await configIn(tmp.dir)), buildThreads: 1 };
  });
  after(() => tmp.cleanup());

  describe('an image-like model: the raw input and a hidden layer, class scores as probabilities', () => {
    const model = onnxMlp({ inputs: 4, hidden: 8, classes: 3, seed: 3, softmax: true });
    const train = blobs(600, 1);
    const test = blobs(30, 2);
    let inputs: string;
    let inProcess: { app: App; detector: Detector };
    let features: { app: App; detector: Detector };
    let exported: string;

    before(async () => {
      inputs = join(tmp.dir, 'mlp');
      await mkdir(inputs);
      await writeFile(join(inputs, 'model.onnx'), model.bytes);
      // The model's own classes, as a team's training labels would mostly be.
      const { w1, b1, w2, b2 } = model.weights;
      const predicted = (row: Float32Array) => {
        const logits = Array.from(dense(dense(row, w1, b1, 8, true), w2, b2, 3, false));
        return logits.indexOf(Math.max(...logits));
      };
      const labels = (x: Float32Array, rows: number) => Array.from({ length: rows }, (_, r) => predicted(x.subarray(r * 4, r * 4 + 4)));
      await writeFile(join(inputs, 'x.npy'), npyBytes('<f4', [600, 4], train.x));
      await writeFile(join(inputs, 'y.npy'), npyBytes('<i8', [600], labels(train.x, 600).map(BigInt)));
      const options = (name: string): AddModelOptions =>
        onnxModelOptions(name, join(inputs, 'model.onnx'), { data: join(inputs, 'x.npy'), labels: join(inputs, 'y.npy') }, { layers: ['input', 'hidden'] });
      await addModel(options('mlp'), config, log);
      const result = await addModelAsFeatures(options('mlp-features'), config, log);
      exported = result.exported;
      assert.equal(result.manifest.runtime, 'features');
      assert.deepEqual(result.manifest.layers, ['input:raw', 'hidden']);
      assert.deepEqual(result.manifest.inputs, [
        { name: 'input:raw', dtype: 'float32', shape: [4] },
        { name: 'hidden', dtype: 'float32', shape: [8] },
        { name: 'probs', dtype: 'float32', shape: [3], probabilities: true },
      ]);
      assert.equal(result.manifest.output_activation, 'none');
      inProcess = await serving(config, 'mlp');
      features = await serving(config, 'mlp-features');
    });
    after(async () => {
      for (const served of [inProcess, features]) {
        if (!served) continue;
        await served.app.close();
        served.detector.dispose?.();
      }
    });

    it('gives the same p-values, to 1e-5, when fed the exported file\'s outputs', async () => {
      const rows = 30;
      const expected = await predict(inProcess.app, Array.from({ length: rows }, (_, r) => Array.from(test.x.subarray(r * 4, r * 4 + 4))));
      const outputs = await serverOutputs(exported, { x: new ort.Tensor('float32', test.x, [rows, 4]) });
      const names = ['input:raw', 'hidden', 'probs'];
      const got = await predict(features.app, Array.from({ length: rows }, (_, r) => featuresInstance(outputs, names, rows, r)));
      assertSameScores(expected, got);
    });

    it('takes the same instances as v2 tensors and as TF Serving named inputs', async () => {
      const rows = 3;
      const outputs = await serverOutputs(exported, { x: new ort.Tensor('float32', test.x.subarray(0, rows * 4), [rows, 4]) });
      const names = ['input:raw', 'hidden', 'probs'];
      const viaPredict = await predict(features.app, Array.from({ length: rows }, (_, r) => featuresInstance(outputs, names, rows, r)));
      const v2 = await features.app.inject({
        method: 'POST',
        url: '/v2/models/mlp-features/infer',
        payload: { inputs: names.map((name) => ({ name, shape: [rows, outputs[name].length / rows], datatype: 'FP32', data: Array.from(outputs[name]) })) },
      });
      assert.equal(v2.statusCode, 200, v2.body);
      const pValues = (v2.json().outputs as { name: string; data: number[] }[]).find((o) => o.name === 'p_value')?.data;
      assert.deepEqual(pValues, viaPredict.map((p) => p.p_values.combined));
      const tf = await features.app.inject({
        method: 'POST',
        url: '/v1/models/mlp-features:predict',
        payload: { instances: Array.from({ length: rows }, (_, r) => featuresInstance(outputs, names, rows, r)) },
      });
      assert.equal(tf.statusCode, 200, tf.body);
      assert.deepEqual((tf.json().predictions as { p_value: number }[]).map((p) => p.p_value), pValues);
      const columns = await features.app.inject({
        method: 'POST',
        url: '/v1/models/mlp-features:predict',
        payload: { inputs: Object.fromEntries(names.map((name) => [name, Array.from({ length: rows }, (_, r) => featuresInstance(outputs, [name], rows, r)[name])])) },
      });
      assert.equal(columns.statusCode, 200, columns.body);
      assert.deepEqual(columns.json().outputs.p_value, pValues);
    });

    it('reads a model server\'s v2 response sent on as it is (a KServe InferenceGraph step), leaving aside what it does not take', async () => {
      const rows = 4;
      const outputs = await serverOutputs(exported, { x: new ort.Tensor('float32', test.x.subarray(0, rows * 4), [rows, 4]) });
      const names = ['input:raw', 'hidden', 'probs'];
      const expected = await predict(features.app, Array.from({ length: rows }, (_, r) => featuresInstance(outputs, names, rows, r)));
      const response = {
        model_name: 'mlp',
        model_version: '1',
        outputs: [
          { name: 'label', datatype: 'INT64', shape: [rows], data: [0, 1, 2, 0] },
          ...names.map((name) => ({ name, datatype: 'FP32', shape: [rows, outputs[name].length / rows], data: Array.from(outputs[name]) })),
        ],
      };
      const sent = await features.app.inject({ method: 'POST', url: '/v2/models/mlp-features/infer', payload: response });
      assert.equal(sent.statusCode, 200, sent.body);
      const pValues = (sent.json().outputs as { name: string; data: number[] }[]).find((o) => o.name === 'p_value')?.data;
      assert.deepEqual(pValues, expected.map((p) => p.p_values.combined));
      // A response lacking a layer is refused as a request lacking it would be.
      const partial = { ...response, outputs: response.outputs.filter((o) => o.name !== 'hidden') };
      const refused = await features.app.inject({ method: 'POST', url: '/v2/models/mlp-features/infer', payload: partial });
      assert.equal(refused.statusCode, 400, refused.body);
      assert.match(refused.json().error, /lacks the tensor "hidden"/);
      // A bad tensor is named where the sender put it, among the response's outputs.
      const narrow = { ...response, outputs: response.outputs.map((o) => (o.name === 'hidden' ? { ...o, shape: [rows, 7], data: o.data.slice(0, rows * 7) } : o)) };
      const named = await features.app.inject({ method: 'POST', url: '/v2/models/mlp-features/infer', payload: narrow });
      assert.equal(named.statusCode, 400, named.body);
      assert.match(named.json().error, /^outputs\[2\]\.shape \[4, 7\]/);

      // The same response in the binary tensor data extension, as Triton sends it with binary_data_output.
      const bytes = names.map((name) => Buffer.from(outputs[name].buffer, outputs[name].byteOffset, outputs[name].byteLength));
      const header = JSON.stringify({
        model_name: 'mlp',
        outputs: [
          { name: 'label', datatype: 'INT64', shape: [rows], data: [0, 1, 2, 0] },
          ...names.map((name, i) => ({ name, datatype: 'FP32', shape: [rows, outputs[name].length / rows], parameters: { binary_data_size: bytes[i].length } })),
        ],
      });
      const binary = await features.app.inject({
        method: 'POST',
        url: '/v2/models/mlp-features/infer',
        headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(Buffer.byteLength(header)) },
        payload: Buffer.concat([Buffer.from(header), ...bytes]),
      });
      assert.equal(binary.statusCode, 200, binary.body);
      assert.deepEqual((binary.json().outputs as { name: string; data: number[] }[]).find((o) => o.name === 'p_value')?.data, pValues);
    });

    it('refuses every malformed instance with a 400 naming the field', async () => {
      const good = { 'input:raw': [0.1, 0.2, 0.3, 0.4], hidden: Array(8).fill(0.5), probs: [0.2, 0.3, 0.5] };
      const cases: [string, unknown, RegExp][] = [
        ['a layer of the wrong width', { ...good, hidden: Array(7).fill(0.5) }, /hidden/],
        ['a missing layer', { 'input:raw': good['input:raw'], probs: good.probs }, /lacks input "hidden"/],
        ['an extra layer', { ...good, fc9: [1] }, /fc9/],
        ['a value that is not a number', { ...good, hidden: [...good.hidden.slice(1), 'NaN'] }, /hidden/],
        ['probabilities that do not sum to 1', { ...good, probs: [2.1, -0.3, 0.5] }, /input probs: value 0 is 2\.1/],
        ['logits where probabilities are due', { ...good, probs: [0.9, 0.8, 0.7] }, /input probs: sums to 2\.4/],
      ];
      for (const [what, instance, pattern] of cases) {
        const response = await features.app.inject({ method: 'POST', url: '/predict', payload: { instances: [good, instance] } });
        assert.equal(response.statusCode, 400, `${what}: ${response.body}`);
        assert.match(response.json().error.message, pattern, what);
      }
      // NaN cannot be written in JSON; the binary extension carries it, and it is refused too.
      const nan = Buffer.alloc(8 * 4);
      nan.writeFloatLE(Number.NaN, 4 * 3);
      const json = JSON.stringify({
        inputs: [
          { name: 'input:raw', shape: [1, 4], datatype: 'FP32', data: good['input:raw'] },
          { name: 'hidden', shape: [1, 8], datatype: 'FP32', parameters: { binary_data_size: nan.length } },
          { name: 'probs', shape: [1, 3], datatype: 'FP32', data: good.probs },
        ],
      });
      const v2 = await features.app.inject({
        method: 'POST',
        url: '/v2/models/mlp-features/infer',
        headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(Buffer.byteLength(json)) },
        payload: Buffer.concat([Buffer.from(json), nan]),
      });
      assert.equal(v2.statusCode, 400, v2.body);
      assert.match(v2.json().error, /inputs\[1\] element 3 must be a finite number/);
    });

    it('names the user\'s files, not its staged copies, when onboarding as features fails', async () => {
      const { w1, b1, w2, b2 } = model.weights;
      const shifted = Array.from({ length: 600 }, (_, r) => {
        const logits = Array.from(dense(dense(train.x.subarray(r * 4, r * 4 + 4), w1, b1, 8, true), w2, b2, 3, false));
        return BigInt((logits.indexOf(Math.max(...logits)) + 1) % 3);
      });
      await writeFile(join(inputs, 'shifted.npy'), npyBytes('<i8', [600], shifted));
      const options = onnxModelOptions('mlp-shifted', join(inputs, 'model.onnx'), { data: join(inputs, 'x.npy'), labels: join(inputs, 'shifted.npy') }, { layers: ['hidden'] });
      await assert.rejects(addModelAsFeatures(options, config, log), (err: Error) => {
        assert.ok(!err.message.includes('.staging-'), err.message);
        assert.match(err.message, /the class names, from .*shifted\.npy, are probably not in the order/);
        return true;
      });
    });

    it('is refused by evaluate, which would have to run OOD sets through a model it does not have', async () => {
      await assert.rejects(evaluateModel(detectorSettings({ ...config, model: 'mlp-features' }), { limit: 10, seed: 1 }, log), isOodError('CONFIG_INVALID', 'mlp-features is a features model'));
    });

    it('writes an exported file that passes onnx.checker, its added outputs typed', { skip: PYTHON_ONNX_SKIP }, () => {
      const script = 'import onnx, sys; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); print(",".join(o.name + ":" + str(o.type.tensor_type.elem_type) for o in m.graph.output))';
      const run = spawnSync('/usr/bin/python3', ['-c', script, exported], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(run.stdout.trim().split(',').sort(), ['hidden:1', 'input:raw:1', 'probs:1']);
    });
  });

  describe('a text model: a hidden state pooled over its unmasked tokens, class scores as logits', () => {
    const T = 6;
    const model = onnxTokenModel({ seqLen: T, vocab: 20, dim: 5, hidden: 4, classes: 3, seed: 10 });
    const ROWS = 500;
    const ids: number[][] = [];
    const masks: number[][] = [];

    before(async () => {
      const dir = join(tmp.dir, 'tokens');
      await mkdir(dir);
      const rng = createRng(11);
      const labels: number[] = [];
      for (let r = 0; r < ROWS + 20; r++) {
        const length = 1 + Math.floor(rng() * T);
        const row = Array.from({ length: T }, (_, t) => (t < length ? 2 + Math.floor(rng() * 18) : 0));
        ids.push(row);
        masks.push(row.map((_, t) => (t < length ? 1 : 0)));
        const { logits } = tokenForward(model, row, masks[r]);
        labels.push(logits.indexOf(Math.max(...logits)));
      }
      await writeFile(join(dir, 'model.onnx'), model.bytes);
      await writeFile(join(dir, 'ids.npy'), npyBytes('<i8', [ROWS, T], ids.slice(0, ROWS).flat().map(BigInt)));
      await writeFile(join(dir, 'mask.npy'), npyBytes('<i8', [ROWS, T], masks.slice(0, ROWS).flat().map(BigInt)));
      await writeFile(join(dir, 'y.npy'), npyBytes('<i8', [ROWS], labels.slice(0, ROWS).map(BigInt)));
      const options = (name: string): AddModelOptions =>
        onnxModelOptions(name, join(dir, 'model.onnx'), { data: `input_ids=${join(dir, 'ids.npy')},attention_mask=${join(dir, 'mask.npy')}`, labels: join(dir, 'y.npy') }, { layers: ['tokens:mean', 'hidden'] });
      await addModel(options('tokens'), config, log);
      const result = await addModelAsFeatures(options('tokens-features'), config, log);
      assert.deepEqual(result.manifest.layers, ['tokens:mean', 'hidden']);
      assert.equal(result.manifest.output_activation, 'softmax');
    });

    it('gives the same p-values, to 1e-5, when fed the exported file\'s outputs', async () => {
      const rows = 20;
      const pick = (m: number[][]) => m.slice(ROWS, ROWS + rows);
      const inProcess = await serving(config, 'tokens');
      const features = await serving(config, 'tokens-features');
      try {
        const expected = await predict(inProcess.app, pick(ids).map((row, r) => ({ input_ids: row, attention_mask: pick(masks)[r] })));
        const outputs = await serverOutputs(join(config.modelsDir, 'tokens-features', EXPORTED_FILE), {
          input_ids: new ort.Tensor('int64', BigInt64Array.from(pick(ids).flat().map(BigInt)), [rows, T]),
          attention_mask: new ort.Tensor('int64', BigInt64Array.from(pick(masks).flat().map(BigInt)), [rows, T]),
        });
        const got = await predict(features.app, Array.from({ length: rows }, (_, r) => featuresInstance(outputs, ['tokens:mean', 'hidden', 'logits'], rows, r)));
        assertSameScores(expected, got);
      } finally {
        for (const served of [inProcess, features]) {
          await served.app.close();
          served.detector.dispose?.();
        }
      }
    });
  });

  describe('add-model --features from files a model server wrote', () => {
    it('refuses class scores that are not what the flag says, files of other rows, and a reserved name, naming the file', async () => {
      const dir = join(tmp.dir, 'given');
      await mkdir(dir);
      const rows = 300;
      const rng = createRng(5);
      const acts = Float32Array.from({ length: rows * 3 }, () => rng());
      const logits = Float32Array.from({ length: rows * 3 }, () => rng() * 4 - 2);
      await writeFile(join(dir, 'h.npy'), npyBytes('<f4', [rows, 3], acts));
      await writeFile(join(dir, 'short.npy'), npyBytes('<f4', [rows - 1, 3], acts.subarray(3)));
      await writeFile(join(dir, 'logits.npy'), npyBytes('<f4', [rows, 3], logits));
      await writeFile(join(dir, 'y.npy'), npyBytes('<i8', [rows], Array.from({ length: rows }, (_, r) => BigInt(r % 3))));
      const options = (spec: string, data: string): AddModelOptions => ({
        ...onnxModelOptions('given', spec, { data, labels: join(dir, 'y.npy') }),
        runtime: 'features',
      });
      const h = join(dir, 'h.npy');
      const scores = join(dir, 'logits.npy');
      await assert.rejects(
        addModel(options(`h=${h};probabilities:scores=${scores}`, `h=${h},scores=${scores}`), config, log),
        isOodError('DATA_INVALID', 'input scores', 'not a probability'),
      );
      await assert.rejects(
        addModel(options(`h=${join(dir, 'short.npy')};logits:scores=${scores}`, `h=${join(dir, 'short.npy')},scores=${scores}`), config, log),
        isOodError('DATA_INVALID', `short.npy holds ${rows - 1}`),
      );
      await assert.rejects(addModel(options(`input=${h};logits:scores=${scores}`, `input=${h},scores=${scores}`), config, log), isOodError('CONFIG_INVALID', '"input" names the raw input'));
      // Probabilities declared as logits would be softmaxed a second time: refused too.
      const probs = join(dir, 'probs.npy');
      const softmax = Float32Array.from(logits);
      for (let r = 0; r < rows; r++) {
        const row = softmax.subarray(r * 3, r * 3 + 3);
        const sum = row.reduce((a, v) => a + Math.exp(v), 0);
        row.forEach((v, c) => (row[c] = Math.exp(v) / sum));
      }
      await writeFile(probs, npyBytes('<f4', [rows, 3], softmax));
      await assert.rejects(addModel(options(`h=${h};logits:scores=${probs}`, `h=${h},scores=${probs}`), config, log), isOodError('DATA_INVALID', 'given as logits are probabilities', '--probabilities'));
    });
  });
});
