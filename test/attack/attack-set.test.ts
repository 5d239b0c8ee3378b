import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { readAttackSet, writeAttackSet } from '../../src/attack/attack-set.js';
import { openAttackTarget } from '../../src/attack/craft.js';
import type { AttackResult } from '../../src/attack/gradient-attack.js';
import { AttackSpecSchema } from '../../src/attack/gradient-attack.js';
import { initBackend } from '../../src/model/backend.js';
import { addModel } from '../../src/onboarding/add-model.js';
import { isOodError } from '../fixtures/assertions.js';
import { blobs, blobsModelOptions, configIn, writeBlobs } from '../fixtures/blobs.js';
import { onnxMlp } from '../fixtures/onnx-model.js';
import { makeTmp } from '../fixtures/tiny-model.js';
import { runOod } from '../cli/run-cli.js';

/** Six test rows of four features, and an "attack" that moved three of them. */
const test = { data: Float32Array.from({ length: 24 }, (_, i) => 0.05 + i / 30), rows: 6, cols: 4 };
const result: AttackResult = {
  spec: AttackSpecSchema.parse({ method: 'pgd', eps: 0.1 }),
  source: Int32Array.of(5, 0, 3),
  labels: Int32Array.of(1, 0, 2),
  // Rows 5, 0 and 3 moved by +0.05, -0.03 and +0.01 in every feature: inside the budget of 0.1.
  adversarial: Float32Array.from({ length: 12 }, (_, i) => test.data[[5, 0, 3][Math.floor(i / 4)] * 4 + (i % 4)] + [0.05, -0.03, 0.01][Math.floor(i / 4)]),
  predicted: Int32Array.of(2, 0, 1),
  successRate: 2 / 3,
};
const origin = { model: 'm', modelFingerprint: 'f', referenceSet: 'r', referenceFingerprint: 'rf', clip: [0, 1] as [number, number], seed: 1, command: 'test' };

describe('attack sets on disk', () => {
  let tmp: Awaited<ReturnType<typeof makeTmp>>;
  before(async () => {
    tmp = await makeTmp('attack-set');
  });
  after(() => tmp.cleanup());

  it('keeps only what the attack changed, and rebuilds the adversarial inputs from the test part', async () => {
    const dir = join(tmp.dir, 'set');
    const meta = await writeAttackSet(dir, result, test, origin);
    assert.equal(meta.success_rate, 2 / 3);
    assert.deepEqual(meta.source, [5, 0, 3]);
    const delta = await readFile(join(dir, 'delta.npy'));
    // A 128-byte header and 3 x 4 float32 differences, not the inputs themselves.
    assert.equal(delta.byteLength, 128 + 12 * 4);
    const { meta: read, x } = await readAttackSet(dir, test, 'rf');
    assert.deepEqual(read, meta);
    assert.equal(x.rows, 3);
    for (let i = 0; i < 12; i++) assert.ok(Math.abs(x.data[i] - result.adversarial[i]) < 1e-6, `value ${i}`);
  });

  it('refuses a set made from other data, a changed delta, or rows the test part lacks', async () => {
    const dir = join(tmp.dir, 'refused');
    await writeAttackSet(dir, result, test, origin);
    await assert.rejects(readAttackSet(dir, test, 'other'), /made from another version of reference set r/);
    await assert.rejects(readAttackSet(dir, { ...test, rows: 4, data: test.data.subarray(0, 16) }, 'rf'), /beyond the 4/);
    const bytes = await readFile(join(dir, 'delta.npy'));
    bytes[bytes.length - 1] ^= 1;
    await writeFile(join(dir, 'delta.npy'), bytes);
    await assert.rejects(readAttackSet(dir, test, 'rf'), /does not match the checksum/);
    await writeFile(join(dir, 'meta.json'), '{"format": 1');
    await assert.rejects(readAttackSet(dir, test, 'rf'), /meta\.json is unreadable/);
  });

  it('refuses a meta.json that does not agree with itself, its budget, its domain or its model', async () => {
    const dir = join(tmp.dir, 'edited');
    const meta = await writeAttackSet(dir, result, test, origin);
    const edit = async (change: Record<string, unknown>) => writeFile(join(dir, 'meta.json'), JSON.stringify({ ...meta, ...change }));
    await edit({});
    await assert.rejects(readAttackSet(dir, test, 'rf', 'another model'), /made against another version of model m/);
    await edit({ spec: { ...meta.spec, eps: 0.04 } });
    await assert.rejects(readAttackSet(dir, test, 'rf'), /row 0 of delta\.npy is 0\.05\d* in linf, beyond the budget 0\.04/);
    await edit({ clip: [0.1, 1] });
    await assert.rejects(readAttackSet(dir, test, 'rf'), /adversarial row 1 leaves the input domain \[0\.1, 1\]/);
    await edit({ labels: [1, 0] });
    await assert.rejects(readAttackSet(dir, test, 'rf'), /lists 3 rows, 2 labels and 3 predictions/);
    await edit({ source: [5, 5, 3] });
    await assert.rejects(readAttackSet(dir, test, 'rf'), /names a test row twice/);
    await edit({ success_rate: 1 });
    await assert.rejects(readAttackSet(dir, test, 'rf'), /success rate 1 is not the 2 of 3 predictions/);
  });
});

describe('npm run ood -- attack', () => {
  let tmp: Awaited<ReturnType<typeof makeTmp>>;
  before(async () => {
    tmp = await makeTmp('attack-cli');
  });
  after(() => tmp.cleanup());

  it('writes a set against the embedded model and reports its success rate', async () => {
    const out = join(tmp.dir, 'fgsm');
    const run = await runOod(['attack', '--model', 'mnist', '--method', 'fgsm', '--eps', '0.2', '--limit', '100', '--out', out], 120_000);
    assert.equal(run.code, 0, run.stderr);
    const meta = JSON.parse(await readFile(join(out, 'meta.json'), 'utf8'));
    assert.equal(meta.spec.method, 'fgsm');
    assert.equal(meta.spec.steps, 1);
    assert.ok(meta.success_rate > 0.5, `success ${meta.success_rate}`);
    assert.match(run.stdout + run.stderr, /fgsm at eps 0\.2: changed the class of \d+\.\d% of the inputs it attacked/);
    assert.match(meta.command, /^npm run ood -- attack --model mnist/);
  });

  it('refuses an unknown method and a budget that is not positive, naming the option', async () => {
    const unknown = await runOod(['attack', '--model', 'mnist', '--method', 'deepfool', '--eps', '0.1', '--out', join(tmp.dir, 'x')]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stdout + unknown.stderr, /--method: /);
    const zero = await runOod(['attack', '--model', 'mnist', '--method', 'pgd', '--eps', '0', '--out', join(tmp.dir, 'y')]);
    assert.equal(zero.code, 1);
    assert.match(zero.stdout + zero.stderr, /--eps: /);
  });

  it('says clearly that an ONNX model has no gradients to attack with', async () => {
    await initBackend('wasm');
    const config = await configIn(tmp.dir);
    const inputs = join(tmp.dir, 'inputs');
    await mkdir(inputs);
    await writeFile(join(inputs, 'model.onnx'), onnxMlp({ inputs: 4, hidden: 6, classes: 3 }).bytes);
    await writeBlobs(inputs, '', blobs(300, 1));
    await addModel(blobsModelOptions(inputs), config, pino({ level: 'silent' }));
    await assert.rejects(
      openAttackTarget(config.modelsDir, config.referenceSetsDir, 'blobs'),
      isOodError('MODEL_INVALID', 'holds an onnx model: its runtime computes no gradients'),
    );
  });
});
