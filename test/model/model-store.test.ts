import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend.js';
import { loadStoredModel, MODEL_FILES, modelDir } from '../../src/model/model-store.js';
import { saveStoredModel } from '../../src/model/tfjs/tfjs-model-file.js';
import { isOodError } from '../fixtures/assertions.js';
import { resealModel } from '../fixtures/seal-model.js';
import { buildTinyModel, makeTmp, TINY, tinyInputs, tinyManifest } from '../fixtures/tiny-model.js';

function predict(model: tf.LayersModel, inputs: Float32Array, rows: number): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor2d(inputs, [rows, TINY.inputSize])) as tf.Tensor).dataSync() as Float32Array);
}

describe('model store', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let model: tf.LayersModel;
  let goodDir: string;
  const inputs = tinyInputs(9);

  before(async () => {
    await initBackend('wasm');
    tmp = await makeTmp('model-store');
    model = buildTinyModel();
    goodDir = join(tmp.dir, 'models', 'tiny');
    await saveStoredModel(goodDir, model, tinyManifest());
  });
  after(async () => {
    model.dispose();
    await tmp.cleanup();
  });

  /** A fresh copy of the good folder as `<tmp>/<case>/tiny`, returning its models dir. */
  async function copyOfGood(caseName: string): Promise<{ modelsDir: string; dir: string }> {
    const modelsDir = join(tmp.dir, caseName);
    const dir = join(modelsDir, 'tiny');
    await cp(goodDir, dir, { recursive: true });
    return { modelsDir, dir };
  }

  it('writes model.json, weights.bin and manifest.json with the expected contents', async () => {
    const topology = JSON.parse(await readFile(join(goodDir, MODEL_FILES.topology), 'utf8'));
    assert.equal(topology.format, 'layers-model');
    assert.deepEqual(topology.weightsManifest[0].paths, ['weights.bin']);
    const specs = topology.weightsManifest[0].weights as { name: string; shape: number[] }[];
    // Kernel and bias per dense layer: 6x5, 5, 5x4, 4, 4x3, 3.
    assert.deepEqual(
      specs.map((s) => s.shape),
      [[6, 5], [5], [5, 4], [4], [4, 3], [3]],
    );
    const weights = await readFile(join(goodDir, MODEL_FILES.weights));
    assert.equal(weights.byteLength, (30 + 5 + 20 + 4 + 12 + 3) * 4);
    const { files, ...manifest } = JSON.parse(await readFile(join(goodDir, MODEL_FILES.manifest), 'utf8'));
    assert.deepEqual(manifest, tinyManifest());
    assert.deepEqual(files, {
      'model.json': { sha256: createHash('sha256').update(await readFile(join(goodDir, MODEL_FILES.topology))).digest('hex'), bytes: (await readFile(join(goodDir, MODEL_FILES.topology))).byteLength },
      'weights.bin': { sha256: createHash('sha256').update(weights).digest('hex'), bytes: weights.byteLength },
    });
  });

  it('loads a model that predicts exactly as the saved one', async () => {
    const stored = await loadStoredModel(join(tmp.dir, 'models'), 'tiny');
    try {
      assert.deepEqual({ ...stored.manifest, files: undefined }, { ...tinyManifest(), files: undefined });
      assert.equal(stored.dir, goodDir);
      assert.match(stored.fingerprint, /^[0-9a-f]{64}$/);
      const expected = predict(model, inputs, 9);
      const actual = predict(stored.model, inputs, 9);
      assert.equal(actual.length, 9 * TINY.classes);
      assert.deepEqual(actual, expected);
      // And the weights themselves are byte-identical.
      const a = model.getWeights().map((w) => Array.from(w.dataSync()));
      const b = stored.model.getWeights().map((w) => Array.from(w.dataSync()));
      assert.deepEqual(b, a);
    } finally {
      stored.model.dispose();
    }
  });

  it('gives a stable fingerprint that changes when only the weights change', async () => {
    const first = await loadStoredModel(join(tmp.dir, 'models'), 'tiny');
    const second = await loadStoredModel(join(tmp.dir, 'models'), 'tiny');
    first.model.dispose();
    second.model.dispose();
    assert.equal(second.fingerprint, first.fingerprint);

    // Same model object (same topology JSON), one bias nudged, saved elsewhere.
    const changedDir = join(tmp.dir, 'changed', 'tiny');
    const original = model.getWeights().map((w) => w.clone());
    try {
      const nudged = original.map((w, i) => (i === 1 ? tf.add(w, 0.25) : w.clone()));
      model.setWeights(nudged);
      tf.dispose(nudged);
      await saveStoredModel(changedDir, model, tinyManifest());
    } finally {
      model.setWeights(original);
      tf.dispose(original);
    }
    assert.equal(
      await readFile(join(changedDir, MODEL_FILES.topology), 'utf8'),
      await readFile(join(goodDir, MODEL_FILES.topology), 'utf8'),
    );
    const changed = await loadStoredModel(join(tmp.dir, 'changed'), 'tiny');
    changed.model.dispose();
    assert.match(changed.fingerprint, /^[0-9a-f]{64}$/);
    assert.notEqual(changed.fingerprint, first.fingerprint);
  });

  it('fingerprints the manifest too', async () => {
    const { modelsDir, dir } = await copyOfGood('manifest-version');
    await writeFile(join(dir, MODEL_FILES.manifest), JSON.stringify(tinyManifest({ version: '1.0.1' })));
    await resealModel(dir);
    const [a, b] = await Promise.all([loadStoredModel(join(tmp.dir, 'models'), 'tiny'), loadStoredModel(modelsDir, 'tiny')]);
    a.model.dispose();
    b.model.dispose();
    assert.notEqual(b.fingerprint, a.fingerprint);
  });

  it('refuses a model.json or weights.bin changed after it was written, naming the file', async () => {
    const { modelsDir, dir } = await copyOfGood('flipped-bit');
    const weights = await readFile(join(dir, MODEL_FILES.weights));
    // One low mantissa bit: every other check passes, and the model would answer differently.
    weights[weights.length / 2] ^= 1;
    await writeFile(join(dir, MODEL_FILES.weights), weights);
    await assert.rejects(loadStoredModel(modelsDir, 'tiny'), isOodError('MODEL_INVALID', join(dir, 'weights.bin'), 'fails its checksum'));

    const edited = await copyOfGood('edited-topology');
    const topology = JSON.parse(await readFile(join(edited.dir, MODEL_FILES.topology), 'utf8'));
    topology.generatedBy = 'someone else';
    await writeFile(join(edited.dir, MODEL_FILES.topology), JSON.stringify(topology));
    await assert.rejects(loadStoredModel(edited.modelsDir, 'tiny'), isOodError('MODEL_INVALID', join(edited.dir, 'model.json'), 'fails its checksum'));
  });

  it('refuses a manifest without the digests of its files', async () => {
    const { modelsDir, dir } = await copyOfGood('unsealed');
    await writeFile(join(dir, MODEL_FILES.manifest), JSON.stringify(tinyManifest()));
    await assert.rejects(loadStoredModel(modelsDir, 'tiny'), isOodError('MODEL_INVALID', join(dir, 'manifest.json'), 'files'));
  });

  it('rejects a folder without weights.bin, naming the file', async () => {
    const { modelsDir, dir } = await copyOfGood('no-weights');
    await rm(join(dir, MODEL_FILES.weights));
    await assert.rejects(loadStoredModel(modelsDir, 'tiny'), isOodError('MODEL_INVALID', join(dir, 'weights.bin')));
  });

  it('rejects a truncated weights.bin with both sizes', async () => {
    const { modelsDir, dir } = await copyOfGood('short-weights');
    await truncate(join(dir, MODEL_FILES.weights), 100);
    await resealModel(dir);
    await assert.rejects(
      loadStoredModel(modelsDir, 'tiny'),
      isOodError('MODEL_INVALID', join(dir, 'weights.bin'), 'has 100 bytes', 'needs 296'),
    );
  });

  it('rejects a weights.bin with extra bytes', async () => {
    const { modelsDir, dir } = await copyOfGood('long-weights');
    const weights = await readFile(join(dir, MODEL_FILES.weights));
    await writeFile(join(dir, MODEL_FILES.weights), Buffer.concat([weights, Buffer.alloc(4)]));
    await resealModel(dir);
    await assert.rejects(loadStoredModel(modelsDir, 'tiny'), isOodError('MODEL_INVALID', 'weights.bin', 'has 300 bytes'));
  });

  it('rejects a model.json that is not valid JSON', async () => {
    const { modelsDir, dir } = await copyOfGood('bad-json');
    await writeFile(join(dir, MODEL_FILES.topology), '{"modelTopology": {');
    await resealModel(dir);
    await assert.rejects(
      loadStoredModel(modelsDir, 'tiny'),
      isOodError('MODEL_INVALID', join(dir, 'model.json'), 'is not valid JSON'),
    );
  });

  it('rejects a model.json without modelTopology', async () => {
    const { modelsDir, dir } = await copyOfGood('no-topology');
    const topology = JSON.parse(await readFile(join(dir, MODEL_FILES.topology), 'utf8'));
    delete topology.modelTopology;
    await writeFile(join(dir, MODEL_FILES.topology), JSON.stringify(topology));
    await resealModel(dir);
    await assert.rejects(loadStoredModel(modelsDir, 'tiny'), isOodError('MODEL_INVALID', join(dir, 'model.json'), 'modelTopology'));
  });

  it('rejects a model.json that is JSON of the wrong form, naming the file and the field', async () => {
    const topology = JSON.parse(await readFile(join(goodDir, MODEL_FILES.topology), 'utf8'));
    const cases: [string, unknown][] = [
      ['(root)', null],
      ['weightsManifest.0', { ...topology, weightsManifest: [null] }],
      ['weightsManifest.0.weights.0.shape', { ...topology, weightsManifest: [{ weights: [{ name: 'w', shape: 'ab', dtype: 'float32' }] }] }],
    ];
    for (const [field, json] of cases) {
      const { modelsDir, dir } = await copyOfGood(`topology-form-${field}`);
      await writeFile(join(dir, MODEL_FILES.topology), JSON.stringify(json));
      await resealModel(dir);
      await assert.rejects(loadStoredModel(modelsDir, 'tiny'), isOodError('MODEL_INVALID', `${join(dir, 'model.json')}: ${field}:`));
    }
  });

  it('rejects a layer graph tfjs could never finish building, instead of hanging in it', async () => {
    type Layer = { name: string; inbound_nodes: unknown[] };
    const breakGraph: Record<string, (layers: Layer[]) => void> = {
      'a call that never happens': (layers) => {
        layers.find((l) => l.name === 'logits')!.inbound_nodes = [];
      },
      'a cycle': (layers) => {
        layers.find((l) => l.name === 'hidden1')!.inbound_nodes = [[['hidden2', 0, 0, {}]]];
      },
      'a missing layer': (layers) => {
        layers.find((l) => l.name === 'hidden2')!.inbound_nodes = [[['nowhere', 0, 0, {}]]];
      },
      'a node that does not exist': (layers) => {
        layers.find((l) => l.name === 'hidden2')!.inbound_nodes = [[['hidden1', 1, 0, {}]]];
      },
      'a layer name tfjs cannot see': (layers) => {
        (layers.find((l) => l.name === 'hidden2') as { name: unknown }).name = [];
      },
    };
    for (const [what, edit] of Object.entries(breakGraph)) {
      const { modelsDir, dir } = await copyOfGood(`graph-${what.replaceAll(' ', '-')}`);
      const topology = JSON.parse(await readFile(join(dir, MODEL_FILES.topology), 'utf8'));
      edit(topology.modelTopology.config.layers);
      await writeFile(join(dir, MODEL_FILES.topology), JSON.stringify(topology));
      await resealModel(dir);
      await assert.rejects(loadStoredModel(modelsDir, 'tiny'), isOodError('MODEL_INVALID', join(dir, 'model.json')), what);
    }
  });

  it('rejects a manifest that fails the schema, naming the file and the field', async () => {
    const cases: [string, unknown][] = [
      ['labels', { ...tinyManifest(), labels: ['only-one'] }],
      ['input_shape', { ...tinyManifest(), input_shape: [0] }],
      ['version', (({ version: _v, ...rest }) => rest)(tinyManifest())],
    ];
    for (const [field, manifest] of cases) {
      const { modelsDir, dir } = await copyOfGood(`schema-${field}`);
      await writeFile(join(dir, MODEL_FILES.manifest), JSON.stringify(manifest));
      await assert.rejects(loadStoredModel(modelsDir, 'tiny'), isOodError('MODEL_INVALID', join(dir, 'manifest.json'), field));
    }
  });

  it('rejects a manifest.json that is not valid JSON', async () => {
    const { modelsDir, dir } = await copyOfGood('manifest-json');
    await writeFile(join(dir, MODEL_FILES.manifest), 'name: tiny');
    await assert.rejects(loadStoredModel(modelsDir, 'tiny'), isOodError('MODEL_INVALID', 'manifest.json', 'not valid JSON'));
  });

  it('rejects a manifest naming another model', async () => {
    const { modelsDir, dir } = await copyOfGood('other-name');
    await writeFile(join(dir, MODEL_FILES.manifest), JSON.stringify(tinyManifest({ name: 'other' })));
    await resealModel(dir);
    await assert.rejects(
      loadStoredModel(modelsDir, 'tiny'),
      isOodError('MODEL_INVALID', join(dir, 'manifest.json'), '"other"', 'expected "tiny"'),
    );
  });

  it('rejects a missing model folder as MODEL_INVALID', async () => {
    await assert.rejects(loadStoredModel(join(tmp.dir, 'nowhere'), 'tiny'), isOodError('MODEL_INVALID', 'cannot read'));
  });

  it('rejects names that could leave the models folder with CONFIG_INVALID', async () => {
    for (const name of ['../x', '..', 'a/b', '', 'Tiny', '.hidden', '-x']) {
      assert.throws(() => modelDir(tmp.dir, name), isOodError('CONFIG_INVALID', `"${name}"`));
      await assert.rejects(loadStoredModel(join(tmp.dir, 'models'), name), isOodError('CONFIG_INVALID', `"${name}"`));
    }
    assert.equal(modelDir('/m', 'tiny-2.v1_x'), join('/m', 'tiny-2.v1_x'));
  });
});
