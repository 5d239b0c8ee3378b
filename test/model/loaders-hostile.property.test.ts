import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { loadConfig } from '../../src/config.js';
import { OodError } from '../../src/errors.js';
import { initBackend } from '../../src/model/backend.js';
import { TfjsEmbedder } from '../../src/model/tfjs/tfjs-embedder.js';
import { ModelManifestSchema, type ModelManifest } from '../../src/model/manifest.js';
import { loadStoredModel, MODEL_FILES, modelDir } from '../../src/model/model-store.js';
import { referenceSetDir } from '../../src/reference/load-reference-set.js';
import {
  assertConfigInvalid,
  assertOneFolderInside,
  byteDamageArb,
  damageBytes,
  editJson,
  hostileNameArb,
  jsonEditArb,
  jsonFileBytes,
  type ByteDamage,
  type JsonEdit,
} from '../fixtures/hostile.js';
import { sealedManifest } from '../fixtures/seal-model.js';
import { makeTmp } from '../fixtures/tiny-model.js';

/**
 * The model loader against damaged folders: a copy of the shipped mnist model with one file
 * truncated, flipped, extended, or its JSON edited into the wrong types or mismatched values.
 * Loading (the store, then the embedder, as the detector does) either refuses with MODEL_INVALID
 * and says where, or yields exactly what the files say under a new fingerprint, so nothing
 * cached for the intact model is ever reused for the damaged one.
 */
const SEED = 20_240_501;
const NAME = 'mnist';
const FILES = [MODEL_FILES.topology, MODEL_FILES.weights, MODEL_FILES.manifest] as const;
type ModelFile = (typeof FILES)[number];
type Files = Record<ModelFile, Buffer>;

type Corruption =
  | { file: ModelFile; bytes: ByteDamage }
  | { file: typeof MODEL_FILES.topology | typeof MODEL_FILES.manifest; json: JsonEdit }
  | { file: typeof MODEL_FILES.manifest; field: keyof ModelManifest; value: unknown };

/** Manifest values that are well-formed but do not fit this model, or do not fit the schema. */
const MISFITS: { [K in keyof ModelManifest]-?: unknown[] } = {
  name: ['fashion-mnist', 'mnist2', 'MNIST', '../mnist', '', 7],
  version: ['', 2, null],
  input_shape: [[28, 28], [783], [785], [784, 1], [1, 784], [0], [-784], [784.5], [], '784'],
  inputs: [
    [{ name: 'pixels', dtype: 'float32', shape: [783] }],
    [{ name: 'pixels', dtype: 'int64', shape: [784] }],
    [{ name: 'a', dtype: 'float32', shape: [392] }, { name: 'b', dtype: 'float32', shape: [392] }],
    [{ name: 'pixels', dtype: 'float16', shape: [784] }],
    [],
  ],
  labels: [['0', '1'], Array.from({ length: 9 }, String), Array.from({ length: 11 }, String), ['0'], ['', '1'], 'digits'],
  layers: [['hidden9'], ['input', 'probs'], ['logits'], ['pixels'], [], [''], ['input', 'input'], 'hidden1'],
  reference_set: ['fashion-mnist', 'nope', '../mnist', '/etc', ''],
  output_layer: ['hidden3', 'logits', 'pixels', 'nope', ''],
  runtime: ['onnx', 'pytorch', 'constructor', '', 7],
  output_activation: ['relu', 'Softmax', '', 1],
  k: [0, -1, 2.5, '75'],
  ef_search: [{ hidden9: 100 }, { probs: 100 }, { input: 0 }, { input: 2.5 }, { input: '100' }, [100], 100],
  storage: [{ hidden9: 'f16' }, { input: 'f8' }, { input: 'auto' }, { input: 16 }, 'f16', ['f32']],
  text: [{ max_length: 0, fields: { input_ids: 'pixels' } }, { max_length: 784, fields: { input_ids: 'pixels' } }, { max_length: 8, fields: {} }, 'bert'],
  preprocessing: [{ width: 0 }, 'png', { width: 28, height: 28, channels: 2, layout: 'nchw' }],
};

const corruptionArb: fc.Arbitrary<Corruption> = fc.oneof(
  fc.record({ file: fc.constantFrom(...FILES), bytes: byteDamageArb }),
  fc.record({ file: fc.constantFrom(MODEL_FILES.topology, MODEL_FILES.manifest), json: jsonEditArb }),
  fc
    .constantFrom(...(Object.keys(MISFITS) as (keyof ModelManifest)[]))
    .chain((field) => fc.record({ file: fc.constant(MODEL_FILES.manifest), field: fc.constant(field), value: fc.constantFrom(...MISFITS[field]) })),
);

/**
 * Damage, then (when `seal`) a manifest re-sealed over the damaged artifacts, as a training run
 * that wrote them would have: unsealed damage must fail the checksum, sealed damage the checks
 * behind it.
 */
function corrupt(pristine: Files, c: Corruption, seal: boolean): Files {
  const files = { ...pristine };
  if ('bytes' in c) files[c.file] = damageBytes(pristine[c.file], c.bytes);
  else if ('json' in c) files[c.file] = jsonFileBytes(editJson(JSON.parse(pristine[c.file].toString('utf8')), c.json));
  else files[c.file] = jsonFileBytes({ ...JSON.parse(pristine[c.file].toString('utf8')), [c.field]: c.value });
  if (seal) {
    const sealed = sealedManifest(files[MODEL_FILES.manifest], files[MODEL_FILES.topology], files[MODEL_FILES.weights]);
    if (sealed) files[MODEL_FILES.manifest] = sealed;
  }
  return files;
}

const artifactsChanged = (files: Files, pristine: Files) =>
  !files[MODEL_FILES.topology].equals(pristine[MODEL_FILES.topology]) || !files[MODEL_FILES.weights].equals(pristine[MODEL_FILES.weights]);

describe('the model loader with a damaged models/mnist', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let pristine: Files;
  let pristineFingerprint: string;
  let runs = 0;

  /** Writes the files as `<tmp>/<run>/mnist/` and loads them as the detector would. */
  async function load(files: Files): Promise<{ dir: string; fingerprint?: string; manifest?: ModelManifest; error?: unknown }> {
    const modelsDir = join(tmp.dir, `run-${runs++}`);
    const dir = join(modelsDir, NAME);
    await mkdir(dir, { recursive: true });
    await Promise.all(FILES.map((file) => writeFile(join(dir, file), files[file])));
    try {
      const stored = await loadStoredModel(modelsDir, NAME);
      new TfjsEmbedder(stored.model, stored.manifest).dispose();
      return { dir, fingerprint: stored.fingerprint, manifest: stored.manifest };
    } catch (error) {
      return { dir, error };
    } finally {
      await rm(modelsDir, { recursive: true, force: true });
    }
  }

  before(async () => {
    await initBackend('wasm');
    tmp = await makeTmp('model-hostile');
    const buffers = await Promise.all(FILES.map((file) => readFile(join('models', NAME, file))));
    pristine = Object.fromEntries(FILES.map((file, i) => [file, buffers[i]])) as Files;
    const intact = await load(pristine);
    assert.ok(intact.fingerprint, `the shipped model does not load: ${String(intact.error)}`);
    pristineFingerprint = intact.fingerprint;
  });
  after(() => tmp.cleanup());

  it('refuses damage with MODEL_INVALID saying where, or loads exactly what the files say under a new fingerprint', async () => {
    const outcomes = { refused: 0, loaded: 0 };
    await fc.assert(
      fc.asyncProperty(corruptionArb, fc.boolean(), async (c, seal) => {
        const files = corrupt(pristine, c, seal);
        const { dir, fingerprint, manifest, error } = await load(files);
        if (!seal && artifactsChanged(files, pristine)) {
          assert.ok(error instanceof OodError && /fails its checksum|manifest\.json/.test(error.message), `unsealed damage: ${String(error)}`);
        }
        if (error !== undefined) {
          outcomes.refused++;
          assert.ok(error instanceof OodError, `not an OodError: ${error instanceof Error ? error.stack : String(error)}`);
          assert.equal(error.code, 'MODEL_INVALID', error.message);
          // The store names the file or folder; the embedder's cross-checks name the manifest.
          assert.ok(error.message.includes(dir) || /\bmanifest\b/.test(error.message), error.message);
          if (seal && 'bytes' in c && c.file === MODEL_FILES.weights && c.bytes.kind !== 'flip') {
            assert.ok(error.message.includes(join(dir, MODEL_FILES.weights)), error.message);
          }
          return;
        }
        outcomes.loaded++;
        const unchanged = FILES.every((file) => files[file].equals(pristine[file]));
        assert.equal(fingerprint === pristineFingerprint, unchanged, 'a changed folder kept the fingerprint of the intact one');
        const written = JSON.parse(files[MODEL_FILES.manifest].toString('utf8')) as Record<string, unknown>;
        for (const [field, value] of Object.entries(manifest ?? {})) assert.deepEqual(value, written[field], field);
      }),
      { numRuns: 300, seed: SEED },
    );
    assert.ok(outcomes.refused > outcomes.loaded, `outcomes: ${JSON.stringify(outcomes)}`);
  });

  it('refuses a weights.bin of any other length, naming it and both sizes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: -pristine[MODEL_FILES.weights].length, max: 64 }).filter((d) => d !== 0), async (delta) => {
        const weights = pristine[MODEL_FILES.weights];
        const resized = delta < 0 ? weights.subarray(0, weights.length + delta) : Buffer.concat([weights, Buffer.alloc(delta)]);
        const files = { ...pristine, [MODEL_FILES.weights]: resized };
        files[MODEL_FILES.manifest] = sealedManifest(files[MODEL_FILES.manifest], files[MODEL_FILES.topology], resized) as Buffer;
        const { dir, error } = await load(files);
        assert.ok(error instanceof OodError && error.code === 'MODEL_INVALID', String(error));
        assert.ok(error.message.includes(`${join(dir, MODEL_FILES.weights)} has ${resized.length} bytes`), error.message);
        assert.ok(error.message.includes(`needs ${weights.length}`), error.message);
      }),
      { numRuns: 20, seed: SEED },
    );
  });

  it('refuses a weights.bin changed in place (a flipped bit in a float) by its checksum', async () => {
    const weights = Buffer.from(pristine[MODEL_FILES.weights]);
    // The low mantissa bit of one float in the middle: the length and every other check pass.
    weights[weights.length / 2] ^= 1;
    const { dir, error } = await load({ ...pristine, [MODEL_FILES.weights]: weights });
    assert.ok(error instanceof OodError && error.code === 'MODEL_INVALID', `loaded: ${String(error)}`);
    assert.ok(error.message.includes(`${join(dir, MODEL_FILES.weights)} fails its checksum`), error.message);
  });
});

describe('model names cannot leave the models folder', () => {
  const root = join('/srv', 'ood', 'models');

  it('modelDir refuses a name with CONFIG_INVALID or resolves to one folder inside the root', () => {
    fc.assert(
      fc.property(hostileNameArb, (name) => {
        let dir: string;
        try {
          dir = modelDir(root, name);
        } catch (err) {
          assertConfigInvalid(err, name);
          assert.ok((err as Error).message.includes(`"${name}"`), (err as Error).message);
          return;
        }
        assertOneFolderInside(root, dir, name);
      }),
      { numRuns: 1000, seed: SEED },
    );
  });

  it('OOD_MODEL is refused at configuration time, or names a folder inside OOD_MODELS_DIR', () => {
    fc.assert(
      fc.property(hostileNameArb, (name) => {
        let model: string;
        try {
          model = loadConfig({ OOD_MODEL: name, OOD_MODELS_DIR: root }).model;
        } catch (err) {
          assertConfigInvalid(err, name);
          return;
        }
        // An empty value means unset, as in a shell: the default model.
        assert.equal(model, name === '' ? 'mnist' : name);
        assertOneFolderInside(root, modelDir(root, model), model);
      }),
      { numRuns: 1000, seed: SEED },
    );
  });

  it('loadStoredModel refuses a bad name before touching the disk', async () => {
    await fc.assert(
      fc.asyncProperty(hostileNameArb, async (name) => {
        const err = await loadStoredModel(root, name).then(
          () => assert.fail(`loaded a model from ${root}, which does not exist`),
          (e: unknown) => e,
        );
        assert.ok(err instanceof OodError, String(err));
        if (err.code === 'CONFIG_INVALID') return;
        // A valid name gets as far as reading its files, all inside the root.
        assert.equal(err.code, 'MODEL_INVALID', err.message);
        assert.ok(err.message.includes(`cannot read ${join(root, name, MODEL_FILES.manifest)}`), err.message);
      }),
      { numRuns: 300, seed: SEED },
    );
  });

  it("a model manifest's name and reference_set pass the schema only as folder names", () => {
    const valid: ModelManifest = {
      name: 'm',
      version: '1',
      input_shape: [4],
      labels: ['a', 'b'],
      layers: ['input'],
      reference_set: 'r',
      output_layer: 'probs',
    };
    fc.assert(
      fc.property(hostileNameArb, fc.constantFrom('name' as const, 'reference_set' as const), (value, field) => {
        const parsed = ModelManifestSchema.safeParse({ ...valid, [field]: value });
        if (!parsed.success) return;
        const referenceSets = join('/srv', 'ood', 'reference-sets');
        if (field === 'reference_set') assertOneFolderInside(referenceSets, referenceSetDir(referenceSets, value), value);
        else assertOneFolderInside(root, modelDir(root, value), value);
      }),
      { numRuns: 1000, seed: SEED },
    );
  });
});
