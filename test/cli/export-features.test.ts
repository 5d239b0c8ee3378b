import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { createRng } from '../../src/math/random.js';
import { npyBytes } from '../../src/reference/sources/npy-write.js';
import { dense, onnxMlp } from '../fixtures/onnx-model.js';
import { onnxTokenModel } from '../fixtures/onnx-token-model.js';
import { makeTmp } from '../fixtures/tiny-model.js';
import { runOod } from './run-cli.js';

describe('npm run ood -- export-features', () => {
  let tmp: Awaited<ReturnType<typeof makeTmp>>;
  const mlp = onnxMlp({ imageShape: [1, 4, 4], hidden: 5, seed: 4 });
  before(async () => {
    tmp = await makeTmp('export-features');
    await writeFile(join(tmp.dir, 'image.onnx'), mlp.bytes);
    await writeFile(join(tmp.dir, 'tokens.onnx'), onnxTokenModel({ seqLen: 4 }).bytes);
  });
  after(() => tmp.cleanup());

  it('writes the model with its default layers as outputs, lists what the server will return, and its Triton entry', async () => {
    const out = join(tmp.dir, 'with-features.onnx');
    const run = await runOod(['export-features', '--onnx', join(tmp.dir, 'image.onnx'), '--out', out, '--triton-repository', join(tmp.dir, 'triton'), '--triton-name', 'image']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /input:raw\s+\[1, 4, 4\]\s+layer input\n/);
    assert.match(run.stdout, /hidden\s+\[5\]\s+layer\n/);
    assert.match(run.stdout, /logits\s+\[3\]\s+class scores \(it ends in Add: taken as logits, softmax applied; add-model decides on the data\)/);
    assert.match(run.stdout, /--features input:raw=input_raw\.npy,hidden=hidden\.npy --logits logits=logits\.npy/);

    // The file runs as the model did, and returns the hidden layer and the raw input besides.
    const session = await ort.InferenceSession.create(await readFile(out));
    const x = Float32Array.from({ length: 16 }, (_, i) => Math.cos(i));
    const results = await session.run({ x: new ort.Tensor('float32', x, [1, 1, 4, 4]) });
    await session.release();
    const hidden = dense(x, mlp.weights.w1, mlp.weights.b1, 5, true);
    const logits = dense(hidden, mlp.weights.w2, mlp.weights.b2, 3, false);
    Array.from(results.hidden.data as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - hidden[i]) < 1e-5, `hidden[${i}]`));
    Array.from(results.logits.data as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - logits[i]) < 1e-5, `logits[${i}]`));
    assert.deepEqual(Array.from(results['input:raw'].data as Float32Array), Array.from(x));

    const config = await readFile(join(tmp.dir, 'triton', 'image', 'config.pbtxt'), 'utf8');
    assert.match(config, /^name: "image"\nbackend: "onnxruntime"\nmax_batch_size: 64\n/);
    assert.deepEqual([...config.matchAll(/name: "([^"]+)"\n {4}data_type: (\w+)\n {4}dims: \[ ([\d, ]+) \]/g)].map((m) => `${m[1]} ${m[2]} [${m[3]}]`), [
      'x TYPE_FP32 [1, 4, 4]',
      'logits TYPE_FP32 [3]',
      'input:raw TYPE_FP32 [1, 4, 4]',
      'hidden TYPE_FP32 [5]',
    ]);
    assert.deepEqual(await readFile(join(tmp.dir, 'triton', 'image', '1', 'model.onnx')), await readFile(out));
  });

  it('refuses a layer the model lacks, the raw input of a model of token ids, and a missing --out, naming each', async () => {
    const unknown = await runOod(['export-features', '--onnx', join(tmp.dir, 'image.onnx'), '--layers', 'hidden,fc9', '--out', join(tmp.dir, 'x.onnx')]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /--layers names \\"fc9\\", which .*image\.onnx does not have/);
    const raw = await runOod(['export-features', '--onnx', join(tmp.dir, 'tokens.onnx'), '--layers', 'input,tokens:mean', '--out', join(tmp.dir, 'y.onnx')]);
    assert.equal(raw.code, 1);
    assert.match(raw.stderr, /only one float input can be indexed as it is/);
    const usage = await runOod(['export-features', '--onnx', join(tmp.dir, 'image.onnx')]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--out is required/);
  });
});

describe('npm run ood -- add-model, the features flags', () => {
  let tmp: Awaited<ReturnType<typeof makeTmp>>;
  const saved = { ...process.env };
  const ROWS = 300;
  before(async () => {
    tmp = await makeTmp('add-model-features');
    for (const dir of ['models', 'reference-sets']) await mkdir(join(tmp.dir, dir));
    const rng = createRng(9);
    const acts = Float32Array.from({ length: ROWS * 4 }, () => rng());
    const labels = Array.from({ length: ROWS }, (_, r) => r % 3);
    // Logits whose argmax is the label, as a model that fits its training rows gives.
    const logits = Float32Array.from({ length: ROWS * 3 }, (_, i) => (labels[Math.floor(i / 3)] === i % 3 ? 2 : 0) + rng());
    await writeFile(join(tmp.dir, 'pooled.npy'), npyBytes('<f4', [ROWS, 4], acts));
    await writeFile(join(tmp.dir, 'out0.npy'), npyBytes('<f4', [ROWS, 3], logits));
    await writeFile(join(tmp.dir, 'y.npy'), npyBytes('<i8', [ROWS], labels.map(BigInt)));
    Object.assign(process.env, { OOD_MODELS_DIR: join(tmp.dir, 'models'), OOD_REFERENCE_SETS_DIR: join(tmp.dir, 'reference-sets'), OOD_CACHE_DIR: join(tmp.dir, 'cache') });
  });
  after(async () => {
    for (const key of ['OOD_MODELS_DIR', 'OOD_REFERENCE_SETS_DIR', 'OOD_CACHE_DIR']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
    await tmp.cleanup();
  });

  it('onboards a layer named as a server pooled it ("x:mean") and scores named as the server\'s output (--logits NAME=FILE)', async () => {
    const run = await runOod(['add-model', '--name', 'given', '--features', `enc:mean=${join(tmp.dir, 'pooled.npy')}`, '--logits', `out0=${join(tmp.dir, 'out0.npy')}`, '--labels', join(tmp.dir, 'y.npy')], 120_000);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /indexed layers: enc:mean\n/);
    const manifest = JSON.parse(await readFile(join(tmp.dir, 'models', 'given', 'manifest.json'), 'utf8'));
    assert.equal(manifest.runtime, 'features');
    assert.deepEqual(manifest.inputs, [
      { name: 'enc:mean', dtype: 'float32', shape: [4] },
      { name: 'out0', dtype: 'float32', shape: [3] },
    ]);
    assert.deepEqual([manifest.output_layer, manifest.output_activation], ['out0', 'softmax']);
    assert.deepEqual(manifest.files, {});
    assert.match(await readFile(join(tmp.dir, 'models', 'given', 'MODEL_CARD.md'), 'utf8'), /The model itself runs elsewhere/);
  });

  it('refuses the same scores declared as probabilities, naming their file and row', async () => {
    const run = await runOod(['add-model', '--name', 'given-p', '--features', `enc:mean=${join(tmp.dir, 'pooled.npy')}`, '--probabilities', join(tmp.dir, 'out0.npy'), '--labels', join(tmp.dir, 'y.npy')], 120_000);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /out0\.npy: row 0, input probabilities: value \d is [\d.]+, not a probability/);
  });

  it('refuses --features without class scores, with --data, and --as-features without --onnx, with the usage', async () => {
    const cases: [string[], RegExp][] = [
      [['--features', 'h=h.npy'], /--logits: with --features give its class scores/],
      [['--features', 'h=h.npy', '--logits', 'l.npy', '--data', 'x.npy'], /--data: --data is required, except with --features/],
      [['--tfjs', 'model.json', '--as-features', '--data', 'x.npy'], /--as-features: --as-features goes with --onnx/],
      [['--onnx', 'model.onnx', '--logits', 'l.npy', '--data', 'x.npy'], /--logits: with --features give its class scores/],
    ];
    for (const [args, message] of cases) {
      const run = await runOod(['add-model', '--name', 'm', ...args]);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
      assert.match(run.stderr, /usage:/);
    }
  });
});
