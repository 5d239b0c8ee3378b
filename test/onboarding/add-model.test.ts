import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import sharp from 'sharp';
import type { Config } from '../../src/config.js';
import { loadDetector } from '../../src/detector/load-detector.js';
import { detectorSettings } from '../../src/detector-settings.js';
import { createRng, gaussian } from '../../src/math/random.js';
import { addModel, calibrationRows, type AddModelOptions } from '../../src/onboarding/add-model.js';
import { isOodError } from '../fixtures/assertions.js';
import { brightnessModel, onnxMlp } from '../fixtures/onnx-model.js';
import { blobs, BLOB_CLASSES, BLOB_FEATURES, blobsModelOptions, configIn, writeBlobs } from '../fixtures/blobs.js';
import { buildTinyModel, makeTmp, TINY } from '../fixtures/tiny-model.js';
import { initBackend } from '../../src/model/backend.js';
import { loadStoredModel } from '../../src/model/model-store.js';
import { loadReferenceSet } from '../../src/reference/load-reference-set.js';
import { runOod } from '../cli/run-cli.js';
import { npyBytes } from '../reference/fixtures.js';
import { FakeHost } from '../http/fake-detector.js';
import { buildTestApp } from '../http/helpers.js';

const log = pino({ level: 'silent' });
const CLASSES = BLOB_CLASSES;
const FEATURES = BLOB_FEATURES;

describe('add-model', () => {
  let tmp: Awaited<ReturnType<typeof makeTmp>>;
  let config: Config;
  let inputs: string;
  const mlp = onnxMlp({ inputs: FEATURES, hidden: 6, classes: CLASSES });

  type Overrides = Omit<Partial<AddModelOptions>, 'data'> & { data?: Partial<AddModelOptions['data']> };
  const options = (overrides: Overrides = {}): AddModelOptions => {
    const base = blobsModelOptions(inputs);
    return { ...base, ...overrides, data: { ...base.data, ...overrides.data } };
  };

  /** Nothing but finished folders under models/ and reference-sets/: no staging left behind. */
  async function assertOnly(expected: string[]): Promise<void> {
    for (const dir of [config.modelsDir, config.referenceSetsDir]) {
      assert.deepEqual((await readdir(dir)).sort(), [...expected].sort(), dir);
    }
  }

  before(async () => {
    tmp = await makeTmp('add-model');
    inputs = join(tmp.dir, 'inputs');
    await mkdir(inputs);
    config = await configIn(tmp.dir);
    const train = blobs(600, 1);
    await writeFile(join(inputs, 'model.onnx'), mlp.bytes);
    await writeBlobs(inputs, '', train);
    await writeBlobs(inputs, 'test_', blobs(150, 2));
    const header = 'id,f0,f1,f2,f3,species';
    const names = ['cat', 'dog', 'eel'];
    const csvRows = Array.from({ length: 600 }, (_, r) => [r, ...train.x.subarray(r * 4, r * 4 + 4), names[train.y[r]]].join(','));
    await writeFile(join(inputs, 'table.csv'), `${header}\n${csvRows.join('\n')}\n`);
    await writeFile(join(inputs, 'classes4.txt'), 'a\nb\nc\nd\n');
    await writeFile(join(inputs, 'short_y.npy'), npyBytes('<i8', [599], train.y.slice(1).map(BigInt)));
    const withNan = Float32Array.from(train.x);
    withNan[37 * FEATURES + 2] = Number.NaN;
    await writeFile(join(inputs, 'nan_x.npy'), npyBytes('<f4', [600, FEATURES], withNan));
    await writeFile(join(inputs, 'garbage.onnx'), Buffer.from('this is not an onnx file, only words'));
    await writeFile(join(inputs, 'truncated.onnx'), mlp.bytes.subarray(0, Math.floor(mlp.bytes.length / 2)));
  });
  after(() => tmp.cleanup());

  it('onboards an ONNX model with .npy data: folders, manifests, checksums, a card, and a served detector', async () => {
    const result = await addModel(
      options({ data: { testData: join(inputs, 'test_x.npy'), testLabels: join(inputs, 'test_y.npy') } }),
      config,
      log,
    );
    await assertOnly(['blobs']);
    assert.deepEqual(result.manifest.layers, ['input', 'hidden']);
    assert.equal(result.manifest.output_activation, 'softmax');
    assert.deepEqual(result.manifest.labels, ['0', '1', '2']);
    const stored = JSON.parse(await readFile(join(config.modelsDir, 'blobs', 'manifest.json'), 'utf8'));
    assert.equal(stored.runtime, 'onnx');
    assert.match(stored.files['model.onnx'].sha256, /^[0-9a-f]{64}$/);
    assert.ok(Buffer.from(mlp.bytes).equals(await readFile(join(config.modelsDir, 'blobs', 'model.onnx'))));
    const refs = JSON.parse(await readFile(join(config.referenceSetsDir, 'blobs', 'manifest.json'), 'utf8'));
    assert.equal(refs.data, 'copied');
    // 600 rows: the default share is raised to 30% (180 rows) on the way towards 2,000.
    assert.deepEqual(refs.split, { method: 'seeded-permutation', seed: 1, calibration: 180, train: 'rest', test: 'all' });
    assert.deepEqual((await readdir(join(config.referenceSetsDir, 'blobs'))).sort(), ['README.md', 'data.npy', 'labels.npy', 'manifest.json', 'test_data.npy', 'test_labels.npy']);
    assert.equal(result.heldOut?.rows, 150);
    const card = await readFile(join(config.modelsDir, 'blobs', 'MODEL_CARD.md'), 'utf8');
    assert.ok(card.includes('held-out rows flagged'), card);

    // Served as `OOD_MODEL=blobs npm start` would: the graphs built during add-model are reused.
    const lines: string[] = [];
    const capture = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const detector = await loadDetector(detectorSettings({ ...config, model: 'blobs' }), capture);
    try {
      assert.ok(lines.some((l) => l.includes('reusing cached reference graphs')), lines.join('\n'));
      assert.equal(detector.info.reference_size, 420);
      const far = Float32Array.from([40, -40, 40, -40]);
      const { predictions } = await detector.predict(far, 1);
      assert.equal(predictions[0].is_outlier, true);
    } finally {
      detector.dispose();
    }

    // The copied data are checksummed: a changed byte is refused, as changed weights are.
    assert.match(refs.data_sha256, /^[0-9a-f]{64}$/);
    const dataFile = join(config.referenceSetsDir, 'blobs', 'data.npy');
    const bytes = await readFile(dataFile);
    bytes[bytes.length - 1] ^= 1;
    await writeFile(dataFile, bytes);
    await assert.rejects(loadReferenceSet(config.referenceSetsDir, 'blobs'), isOodError('DATA_INVALID', 'changed since they were added'));
    bytes[bytes.length - 1] ^= 1;
    await writeFile(dataFile, bytes);
  });

  it('onboards a CSV table with named classes, leaving out ignored columns, and refuses a taken name unless --force', async () => {
    const csv = options({ name: 'blobs-csv', copyData: false, efSearch: { input: 64 }, data: { data: join(inputs, 'table.csv'), labels: undefined, labelColumn: 'species', ignoreColumns: ['id'] } });
    const result = await addModel(csv, config, log);
    assert.deepEqual(result.manifest.labels, ['cat', 'dog', 'eel']);
    assert.equal(result.referenceSet.data, 'referenced');
    assert.deepEqual(result.manifest.ef_search, { input: 64 });
    await assert.rejects(addModel(csv, config, log), isOodError('CONFIG_INVALID', join(config.modelsDir, 'blobs-csv'), 'already exists', '--force'));
    const replaced = await addModel({ ...csv, force: true, version: '2' }, config, log);
    assert.equal(replaced.manifest.version, '2');
    await assertOnly(['blobs', 'blobs-csv']);
  });

  const refusals: [string, Overrides, Parameters<typeof isOodError>][] = [
    ['a garbage ONNX file', { modelFile: 'GARBAGE' }, ['MODEL_INVALID', 'garbage.onnx', 'not an ONNX model']],
    ['a truncated ONNX file', { modelFile: 'TRUNCATED' }, ['MODEL_INVALID', 'truncated.onnx']],
    ['labels of another length', { data: { labels: 'short_y.npy' } }, ['DATA_INVALID', 'short_y.npy', '599 labels', '600 rows']],
    ['a missing data file', { data: { data: 'missing.npy' } }, ['DATA_SOURCE_MISSING', 'missing.npy']],
    ['rows of another width than the model takes', { data: { data: 'table.csv', labels: undefined, labelColumn: 'species' } }, ['DATA_INVALID', 'table.csv', '5 values per row', 'takes 4', '--ignore-columns']],
    ['a missing label column', { data: { data: 'table.csv', labels: undefined, labelColumn: 'kind' } }, ['DATA_INVALID', '"kind"', 'species']],
    ['a class count unlike the model\'s', { data: { classes: 'classes4.txt' } }, ['DATA_INVALID', 'outputs 3 classes', 'have 4', 'classes4.txt']],
    ['NaN in the data', { data: { data: 'nan_x.npy' } }, ['DATA_INVALID', 'nan_x.npy', 'row 37']],
    ['a layer that does not exist', { layers: ['input', 'hidden7'] }, ['CONFIG_INVALID', '"hidden7"', 'hidden']],
    ['an efSearch for a layer it does not index', { efSearch: { hidden7: 120 } }, ['CONFIG_INVALID', '--ef-search names hidden7', 'input, hidden']],
  ];
  for (const [what, overrides, expected] of refusals) {
    it(`refuses ${what}, naming it, and leaves nothing behind`, async () => {
      const at = (f: string | undefined) => (f === undefined ? undefined : join(inputs, f));
      const modelFile = overrides.modelFile === 'GARBAGE' ? 'garbage.onnx' : overrides.modelFile === 'TRUNCATED' ? 'truncated.onnx' : undefined;
      const data = overrides.data ?? {};
      const resolved = options({
        ...overrides,
        name: 'refused',
        ...(modelFile ? { modelFile: join(inputs, modelFile) } : {}),
        data: Object.fromEntries(
          Object.entries(data).map(([k, v]) => [k, k === 'labelColumn' || k === 'ignoreColumns' ? v : at(v as string | undefined)]),
        ) as Partial<AddModelOptions['data']>,
      });
      await assert.rejects(addModel(resolved, config, log), isOodError(...expected));
      await assertOnly(['blobs', 'blobs-csv']);
    });
  }


  it('onboards an image model from a folder of PNGs, and serves {"b64": ...} instances with the recorded preprocessing', async () => {
    // The label check refuses a model that disagrees with its labels: this one classifies them.
    await writeFile(join(inputs, 'image.onnx'), brightnessModel());
    const rng = createRng(9);
    const images = join(inputs, 'images');
    const pngs: Buffer[] = [];
    const rawPixels: Buffer[] = [];
    for (const [label, level] of [['dark', 40], ['grey', 128], ['light', 215]] as const) {
      await mkdir(join(images, label), { recursive: true });
      for (let i = 0; i < 40; i++) {
        const pixels = Buffer.from(Array.from({ length: 16 }, () => Math.max(0, Math.min(255, Math.round(level + gaussian(rng) * 20)))));
        const png = await sharp(pixels, { raw: { width: 4, height: 4, channels: 1 } }).png().toBuffer();
        await writeFile(join(images, label, `${String(i).padStart(2, '0')}.png`), png);
        pngs.push(png);
        rawPixels.push(pixels);
      }
    }
    const pictures = options({ name: 'pictures', modelFile: join(inputs, 'image.onnx'), data: { data: images, labels: undefined } });
    await assert.rejects(
      addModel({ ...pictures, calibrationShare: 0.1 }, config, log),
      isOodError('CONFIG_INVALID', '--calibration-share 0.1', 'gives 12 calibration rows', 'at least 40'),
    );
    const result = await addModel({ ...pictures, calibrationShare: 0.4 }, config, log);
    assert.deepEqual(result.manifest.labels, ['dark', 'grey', 'light']);
    assert.deepEqual(result.manifest.input_shape, [1, 4, 4]);
    assert.deepEqual(result.manifest.layers, ['input', 'hidden']);
    assert.deepEqual(result.manifest.preprocessing, { width: 4, height: 4, channels: 1, layout: 'nchw', scale: 1 / 255, mean: [0], std: [1] });
    assert.equal(result.referenceSet.source.kind, 'image-folder');

    const detector = await loadDetector(detectorSettings({ ...config, model: 'pictures' }), log);
    const app = await buildTestApp(new FakeHost(detector));
    try {
      const res = await app.inject({ method: 'POST', url: '/predict', payload: { instances: [{ b64: pngs[0].toString('base64') }] } });
      assert.equal(res.statusCode, 200, res.body);
      // The same picture as numbers, scaled as the manifest says, scores the same.
      const numbers = Array.from(rawPixels[0], (v) => v / 255);
      const same = await app.inject({ method: 'POST', url: '/predict', payload: { instances: [numbers] } });
      assert.equal(same.statusCode, 200, same.body);
      assert.deepEqual(same.json().predictions, res.json().predictions);
    } finally {
      await app.close();
      detector.dispose();
    }
    await assertOnly(['blobs', 'blobs-csv', 'pictures']);
  });

  it('onboards a tfjs model.json with sharded weights, as tensorflowjs_converter writes a Keras model', async () => {
    await initBackend('wasm');
    const model = buildTinyModel(4);
    const dir = join(inputs, 'keras-export');
    await mkdir(dir);
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        const weights = new Uint8Array(artifacts.weightData as ArrayBuffer);
        const half = 40;
        await writeFile(join(dir, 'group1-shard1of2.bin'), weights.subarray(0, half));
        await writeFile(join(dir, 'group1-shard2of2.bin'), weights.subarray(half));
        const manifest = [{ paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: artifacts.weightSpecs }];
        await writeFile(join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: artifacts.modelTopology, weightsManifest: manifest }));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const rng = createRng(4);
    const rows = 500;
    const x = Float32Array.from({ length: rows * TINY.inputSize }, () => gaussian(rng));
    await writeFile(join(inputs, 'tiny_x.npy'), npyBytes('<f4', [rows, TINY.inputSize], x));
    await writeFile(join(inputs, 'tiny_y.npy'), npyBytes('<i8', [rows], Array.from({ length: rows }, (_, r) => BigInt(r % 3))));
    const result = await addModel(
      options({ name: 'tiny-keras', runtime: 'tfjs', modelFile: join(dir, 'model.json'), data: { data: join(inputs, 'tiny_x.npy'), labels: join(inputs, 'tiny_y.npy') } }),
      config,
      log,
    );
    assert.equal(result.manifest.runtime, 'tfjs');
    assert.deepEqual(result.manifest.layers, ['input', 'hidden1', 'hidden2']);
    assert.equal(result.manifest.output_layer, 'probs');
    assert.equal(result.manifest.output_activation, 'none');
    // Stored as the service keeps tfjs models, and served with the same probabilities as the original.
    const stored = await loadStoredModel(config.modelsDir, 'tiny-keras');
    try {
      const probe = x.subarray(0, 3 * TINY.inputSize);
      const expected = tf.tidy(() => (model.predict(tf.tensor2d(probe, [3, TINY.inputSize])) as tf.Tensor).dataSync());
      const actual = tf.tidy(() => (stored.model.predict(tf.tensor2d(probe, [3, TINY.inputSize])) as tf.Tensor).dataSync());
      assert.deepEqual(Array.from(actual), Array.from(expected));
    } finally {
      stored.model.dispose();
      model.dispose();
    }
    await rm(join(config.modelsDir, 'tiny-keras'), { recursive: true });
    await rm(join(config.referenceSetsDir, 'tiny-keras'), { recursive: true });
  });

  it('as a command: a refusal exits non-zero with the file named', async () => {
    const result = await runOod(['add-model', '--name', 'cli-refused', '--onnx', join(inputs, 'garbage.onnx'), '--data', join(inputs, 'x.npy'), '--labels', join(inputs, 'y.npy')]);
    assert.equal(result.code, 1, result.stderr);
    assert.ok(result.stderr.includes('garbage.onnx'), result.stderr);
    const usage = await runOod(['add-model', '--name', 'x', '--data', join(inputs, 'x.npy')]);
    assert.equal(usage.code, 2);
    assert.ok(usage.stderr.includes('exactly one of --onnx'), usage.stderr);
  });
});

describe('calibrationRows', () => {
  it('takes a tenth of large sets, raises small ones towards 2,000 rows up to 30%, and honours a given share', () => {
    assert.equal(calibrationRows(60_000), 6000);
    assert.equal(calibrationRows(10_000), 2000);
    assert.equal(calibrationRows(1438), 431);
    assert.equal(calibrationRows(1438, 0.1), 144);
  });
});
