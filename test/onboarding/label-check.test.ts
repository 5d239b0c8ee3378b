import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { Config } from '../../src/config.js';
import { classAgreement } from '../../src/math/class-agreement.js';
import { addModel, type AddModelOptions } from '../../src/onboarding/add-model.js';
import { labelCheckOf, scrambledMessage, spreadRows } from '../../src/onboarding/label-check.js';
import { isOodError } from '../fixtures/assertions.js';
import { configIn } from '../fixtures/blobs.js';
import { quadrantModel, writeQuadrantImages } from '../fixtures/quadrant-model.js';
import { makeTmp } from '../fixtures/tiny-model.js';
import { runOod } from '../cli/run-cli.js';

const log = pino({ level: 'silent' });

describe('the label check, its parts', () => {
  it('spreads the rows it takes over the whole set', () => {
    const x = { data: Float32Array.from({ length: 10 }, (_, i) => i), rows: 10, cols: 1 };
    const labels = Int32Array.from([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    const sample = spreadRows({ x, labels }, 4);
    assert.deepEqual(Array.from(sample.x.data), [0, 2, 5, 7]);
    assert.deepEqual(Array.from(sample.labels), [0, 0, 1, 1]);
    assert.equal(spreadRows({ x, labels }).x.rows, 10);
  });

  it('lists the names in the order the model uses: output j names the class it predicts as j', () => {
    // The data call the classes a, b, c; the model predicts a as 2, b as 0, c as 1.
    const labels = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2];
    const check = labelCheckOf(classAgreement(labels.map((l) => [2, 0, 1][l]), labels, 3), ['a', 'b', 'c']);
    assert.deepEqual(check.likelyOrder, ['b', 'c', 'a']);
    assert.deepEqual(check.reorder, [2, 0, 1]);
    const names = scrambledMessage(check, 'the class folders of images/', false);
    assert.ok(names.includes('The order the model seems to use: b, c, a.'), names);
    assert.ok(!names.includes('renumber'), names);
    // Whole-number .npy labels are indices that --classes only names: the message says how to renumber them.
    const indices = scrambledMessage(check, 'y.npy', true);
    assert.ok(indices.includes('label 0 as 2, 1 as 0, 2 as 1'), indices);
  });
});

describe('add-model: the label check', () => {
  let tmp: Awaited<ReturnType<typeof makeTmp>>;
  let config: Config;
  let inputs: string;
  // The model's output q is MODEL_ORDER[q]; sorted, the folder names move 3 classes of 4.
  const MODEL_ORDER = ['ant', 'cat', 'dog', 'bee'];

  const options = (name: string, data: Partial<AddModelOptions['data']>): AddModelOptions => ({
    name,
    modelFile: join(inputs, 'quadrants.onnx'),
    runtime: 'onnx',
    seed: 1,
    // 120 images: 48 calibrate, 72 are indexed and checked.
    calibrationShare: 0.4,
    copyData: true,
    force: false,
    version: '1',
    command: 'npm run ood -- add-model (test)',
    data: { data: join(inputs, 'images'), ...data },
  });

  async function assertOnly(expected: string[]): Promise<void> {
    for (const dir of [config.modelsDir, config.referenceSetsDir]) assert.deepEqual((await readdir(dir)).sort(), [...expected].sort(), dir);
  }

  before(async () => {
    tmp = await makeTmp('label-check');
    inputs = join(tmp.dir, 'inputs');
    await mkdir(inputs);
    config = await configIn(tmp.dir);
    await writeFile(join(inputs, 'quadrants.onnx'), quadrantModel());
    await writeQuadrantImages(join(inputs, 'images'), MODEL_ORDER, 30);
    await writeFile(join(inputs, 'classes.txt'), `${MODEL_ORDER.join('\n')}\n`);
  });
  after(() => tmp.cleanup());

  it('refuses class folders whose sorted names are not the model\'s order, naming that order and --classes, and leaves nothing behind', async () => {
    await assert.rejects(
      addModel(options('scrambled', {}), config, log),
      isOodError('DATA_INVALID', 'of 72 reference rows', 'chance level', 'a reordering of the classes', 'accuracy 1.0000', 'ant, cat, dog, bee', '--classes FILE'),
    );
    await assertOnly([]);
  });

  it('accepts the same folders with --classes in the model\'s order, and the card records the accuracy', async () => {
    const result = await addModel(options('ordered', { classes: join(inputs, 'classes.txt') }), config, log);
    assert.deepEqual(result.manifest.labels, MODEL_ORDER);
    assert.deepEqual({ ...result.labelCheck, likelyOrder: undefined }, {
      rows: 72,
      accuracy: 1,
      chance: result.labelCheck.chance,
      reorderedAccuracy: 1,
      verdict: 'consistent',
      likelyOrder: undefined,
      reorder: [0, 1, 2, 3],
    });
    const card = await readFile(join(config.modelsDir, 'ordered', 'MODEL_CARD.md'), 'utf8');
    assert.match(card, /\| model accuracy on the reference rows \| 1\.0000 on 72 of the indexed rows, against their labels \(chance level 0\.\d{4}/);
    await assertOnly(['ordered']);
  });

  it('as a command, an honest onboarding prints its accuracy', async () => {
    // Folders named so that sorted they are the model's order.
    const honest = join(inputs, 'honest');
    await writeQuadrantImages(honest, ['a-ant', 'b-cat', 'c-dog', 'd-bee'], 30);
    const saved = { ...process.env };
    Object.assign(process.env, { OOD_MODELS_DIR: config.modelsDir, OOD_REFERENCE_SETS_DIR: config.referenceSetsDir, OOD_CACHE_DIR: config.cacheDir });
    try {
      const result = await runOod(['add-model', '--name', 'honest', '--onnx', join(inputs, 'quadrants.onnx'), '--data', honest, '--calibration-share', '0.4']);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(result.stdout.includes('model accuracy on the reference rows: 1.0000 (72 rows)'), result.stdout);
    } finally {
      for (const key of ['OOD_MODELS_DIR', 'OOD_REFERENCE_SETS_DIR', 'OOD_CACHE_DIR']) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
    const card = await readFile(join(config.modelsDir, 'honest', 'MODEL_CARD.md'), 'utf8');
    assert.ok(card.includes('| model accuracy on the reference rows | 1.0000 on 72'), card);
  });
});
