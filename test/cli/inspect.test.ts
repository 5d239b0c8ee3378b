import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { onnxMlp } from '../fixtures/onnx-model.js';
import { makeTmp } from '../fixtures/tiny-model.js';
import { runOod } from './run-cli.js';

describe('npm run ood -- inspect', () => {
  let tmp: Awaited<ReturnType<typeof makeTmp>>;
  before(async () => {
    tmp = await makeTmp('inspect');
    await writeFile(join(tmp.dir, 'image.onnx'), onnxMlp({ imageShape: [1, 4, 4], hidden: 5 }).bytes);
    await writeFile(join(tmp.dir, 'broken.onnx'), 'not a model');
  });
  after(() => tmp.cleanup());

  it('prints the input, the class output, the candidate layers with shapes and the default choice with reasons', async () => {
    const out = await runOod(['inspect', join(tmp.dir, 'image.onnx')]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /input {4}x float32 \[1, 4, 4\]\n {9}\(16 values per instance\)/);
    assert.match(out.stdout, /classes {2}3 from "logits": it ends in Add: taken as logits, softmax applied/);
    assert.match(out.stdout, /\* hidden\s+Relu\s+\[5\]\s+5/);
    assert.match(out.stdout, /default layers: input,hidden\n/);
    const json = await runOod(['inspect', join(tmp.dir, 'image.onnx'), '--json']);
    const parsed = JSON.parse(json.stdout) as { defaults: { layers: string[] }; candidates: { name: string }[] };
    assert.deepEqual(parsed.defaults.layers, ['input', 'hidden']);
    assert.deepEqual(parsed.candidates.map((c) => c.name), ['flat', 'mm1', 'pre1', 'hidden', 'mm2']);
  });

  it('refuses a file that is not a model with its name and exit code 1, and a missing argument with the usage', async () => {
    const broken = await runOod(['inspect', join(tmp.dir, 'broken.onnx')]);
    assert.equal(broken.code, 1);
    assert.ok(broken.stderr.includes('broken.onnx') && broken.stderr.includes('not an ONNX model'), broken.stderr);
    const usage = await runOod(['inspect']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /usage: npm run ood -- inspect FILE/);
  });
});
