import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import type { ModelManifest } from '../../src/model/manifest.js';
import type { ModelDescription } from '../../src/model/model-description.js';
import { featuresSpec } from '../../src/model/features/features-runtime.js';
import { inputsField } from '../../src/model/model-inputs.js';
import { npyBytes } from '../../src/reference/sources/npy-write.js';
import { runtimeRegistry, type ModelRuntime } from '../../src/model/model-runtime.js';
import { loadModel } from '../../src/model/model-store.js';
import { MODEL_RUNTIMES, RUNTIMES, runtimeForFile, runtimeNameOf, runtimeOf, type RuntimeName } from '../../src/model/runtimes.js';
import { TOKENIZER_FILE } from '../../src/model/text/text-settings.js';
import { tfjsArtifactFiles } from '../../src/model/tfjs/tfjs-model-file.js';
import { openClassProbe } from '../../src/onboarding/class-probe.js';
import { checkClassScores } from '../../src/onboarding/class-scores.js';
import { describeModelFile } from '../../src/onboarding/describe-file.js';
import { isOodError } from '../fixtures/assertions.js';
import { LINEAR_FILE, linearRuntime, type LinearWeights } from '../fixtures/linear-runtime.js';
import { onnxMlp } from '../fixtures/onnx-model.js';
import { buildTinyModel, makeTmp, TINY } from '../fixtures/tiny-model.js';

const ROWS = 7;
const rowsOf = (width: number) => Float32Array.from({ length: ROWS * width }, (_, i) => Math.sin(i * 1.3) * 2);

/** The manifest add-model would write for a described model, without the data. */
function manifestFor(name: string, description: ModelDescription, runtime: string): ModelManifest {
  return {
    name,
    version: '1',
    input_shape: description.input.shape,
    ...inputsField(description.inputs),
    labels: Array.from({ length: description.classOutput.classes }, (_, i) => `class${i}`),
    layers: description.defaults.layers,
    reference_set: name,
    output_layer: description.classOutput.name,
    runtime,
    output_activation: 'none',
  };
}

describe('the runtimes table', () => {
  it('has every member of the contract in every row, and no row names a file the folder keeps for itself', () => {
    for (const [name, runtime] of Object.entries(RUNTIMES) as [RuntimeName, ModelRuntime][]) {
      for (const text of [runtime.title, runtime.fileHint, runtime.keptAs]) assert.ok(typeof text === 'string' && text.length > 0, name);
      for (const member of [runtime.matches, runtime.prepare, runtime.describe, runtime.open]) assert.equal(typeof member, 'function', name);
      assert.deepEqual(Object.keys(runtime.capabilities).sort(), ['gradients', 'inputTypes', 'pooledLayers'], name);
      // A features model keeps no model file: the model runs on its owners' server.
      assert.ok((runtime.files.length > 0 || name === 'features') && new Set(runtime.files).size === runtime.files.length, name);
      assert.ok(!runtime.files.some((f) => f === 'manifest.json' || f === TOKENIZER_FILE), name);
    }
    assert.deepEqual(MODEL_RUNTIMES.names, Object.keys(RUNTIMES));
  });

  it('resolves a manifest\'s runtime in one place, tfjs when it names none, and lists the valid choices when it is unknown', () => {
    assert.equal(runtimeNameOf({}), 'tfjs');
    assert.equal(runtimeOf({}), RUNTIMES.tfjs);
    assert.equal(runtimeOf({ runtime: 'onnx' }), RUNTIMES.onnx);
    for (const runtime of ['pytorch', 'constructor', 'toString']) {
      assert.throws(() => runtimeOf({ runtime }, 'models/m/manifest.json'), isOodError('MODEL_INVALID', 'models/m/manifest.json', `"${runtime}"`, 'valid choices: onnx, tfjs, features'));
    }
  });

  it('tells a user\'s file by its name, and says which files would do', () => {
    assert.equal(runtimeForFile('exports/model.onnx'), 'onnx');
    assert.equal(runtimeForFile('keras/MODEL.JSON'), 'tfjs');
    assert.equal(runtimeForFile('h=acts.npy;logits:out=scores.npy'), 'features');
    assert.throws(() => runtimeForFile('model.pt'), isOodError('CONFIG_INVALID', 'model.pt: expected an ONNX file (.onnx) or a tfjs model.json or activation files'));
  });
});

describe('every runtime, one contract: describe a user\'s file, probe it, save it, load it', () => {
  let tmp: Awaited<ReturnType<typeof makeTmp>>;
  /** A file a user could bring, for each row: a new row does not type-check until it has one. */
  let fixtures: Record<RuntimeName, { file: string; width: number }>;

  before(async () => {
    tmp = await makeTmp('runtimes');
    await mkdir(join(tmp.dir, 'models'));
    const onnx = join(tmp.dir, 'mlp.onnx');
    await writeFile(onnx, onnxMlp({ inputs: 4, hidden: 6, classes: 3 }).bytes);
    await RUNTIMES.tfjs.prepare({ backend: 'wasm' });
    const keras = join(tmp.dir, 'keras');
    await mkdir(keras);
    const model = buildTinyModel(5);
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        for (const [file, bytes] of Object.entries(tfjsArtifactFiles(artifacts))) await writeFile(join(keras, file), bytes);
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    model.dispose();
    // A features model: two layers' activations and three classes' logits over the same rows.
    const npy = async (file: string, cols: number) => writeFile(join(tmp.dir, file), npyBytes('<f4', [ROWS, cols], rowsOf(cols).subarray(0, ROWS * cols)));
    await npy('h1.npy', 4);
    await npy('h2.npy', 2);
    await npy('scores.npy', 3);
    const features = featuresSpec({
      layers: [{ name: 'h1', file: join(tmp.dir, 'h1.npy') }, { name: 'h2', file: join(tmp.dir, 'h2.npy') }],
      scores: { kind: 'logits', name: 'scores', file: join(tmp.dir, 'scores.npy') },
    });
    fixtures = { onnx: { file: onnx, width: 4 }, tfjs: { file: join(keras, 'model.json'), width: TINY.inputSize }, features: { file: features, width: 9 } };
  });
  after(() => tmp.cleanup());

  for (const name of MODEL_RUNTIMES.names) {
    it(`${name}: the saved folder loads through the table and answers as the probe did`, async () => {
      const { file, width } = fixtures[name];
      assert.equal(runtimeForFile(file), name);
      const runtime = RUNTIMES[name];
      const described = await describeModelFile(file, runtime);
      let expected: Float32Array;
      try {
        const { description } = described;
        assert.equal(description.runtime, name);
        assert.equal(description.classOutput.classes, 3);
        const probe = await openClassProbe(described, description.classOutput);
        try {
          const scores = await probe.embed(rowsOf(width), ROWS);
          assert.deepEqual([scores.probabilities.rows, scores.probabilities.cols], [ROWS, 3]);
          expected = Float32Array.from(scores.probabilities.data);
        } finally {
          probe.dispose();
        }
        // After the probe is gone the described model is whole: it saves.
        await described.save(join(tmp.dir, 'models', name), manifestFor(name, description, name));
      } finally {
        described.dispose();
      }
      const loaded = await loadModel(join(tmp.dir, 'models'), name);
      try {
        assert.deepEqual(Object.keys(loaded.manifest.files).sort(), [...runtime.files].sort());
        const { probabilities, activations } = await loaded.model.embed(rowsOf(width), ROWS);
        assert.equal(activations.length, loaded.manifest.layers.length);
        probabilities.data.forEach((p, i) => assert.ok(Math.abs(p - expected[i]) < 1e-6, `[${i}] ${p} vs ${expected[i]}`));
      } finally {
        loaded.model.dispose();
      }
    });
  }
});

describe('a new runtime is one file plus one row', () => {
  let tmp: Awaited<ReturnType<typeof makeTmp>>;
  let file: string;
  const weights: LinearWeights = { inputs: 2, classes: 3, weights: [1, 0, -1, 0, 2, 1] };
  // The one row, added to a copy of the service's table.
  const runtimes = runtimeRegistry({ ...RUNTIMES, linear: linearRuntime }, 'tfjs');
  const x = Float32Array.from([1, 2, -1, 0.5]);

  before(async () => {
    tmp = await makeTmp('linear-runtime');
    await mkdir(join(tmp.dir, 'models'));
    file = join(tmp.dir, 'classifier.lin');
    await writeFile(file, JSON.stringify(weights));
  });
  after(() => tmp.cleanup());

  it('is found by its file and by its manifest, and is listed among the valid choices', () => {
    assert.equal(runtimes.forFile(file), 'linear');
    assert.equal(runtimes.of({ runtime: 'linear' }), linearRuntime);
    assert.equal(runtimes.of({}), RUNTIMES.tfjs);
    assert.throws(() => runtimes.nameOf({ runtime: 'sklearn' }), isOodError('MODEL_INVALID', 'valid choices: onnx, tfjs, features, linear'));
    assert.throws(() => runtimes.forFile('model.pt'), isOodError('CONFIG_INVALID', 'or a linear model (.lin)'));
  });

  it('is onboarded (described, probed, its class output checked, saved) and loaded with checksums, through the code the service already has', async () => {
    const described = await describeModelFile(file, runtimes.get(runtimes.forFile(file)));
    const { description } = described;
    // Row 0: scores [1, 4, 1]; row 1: [-1, 1, 1.5]. Not probabilities: a softmax is applied.
    assert.equal(await checkClassScores(described, description.classOutput, { data: x, rows: 2, cols: 2 }, pino({ level: 'silent' })), 'softmax');
    const probe = await openClassProbe(described, description.classOutput);
    assert.deepEqual(Array.from((await probe.embed(x, 2)).probabilities.data), [1, 4, 1, -1, 1, 1.5]);
    probe.dispose();
    await described.save(join(tmp.dir, 'models', 'lin'), { ...manifestFor('lin', description, 'linear'), output_activation: 'softmax' });
    described.dispose();

    const loaded = await loadModel(join(tmp.dir, 'models'), 'lin', [], runtimes);
    assert.equal(loaded.model.backend, 'linear-js');
    assert.deepEqual(Object.keys(loaded.manifest.files), [LINEAR_FILE]);
    const { probabilities } = await loaded.model.embed(x, 2);
    const rowSums = [0, 1].map((r) => Array.from(probabilities.data.subarray(r * 3, r * 3 + 3)).reduce((sum, p) => sum + p, 0));
    rowSums.forEach((sum) => assert.ok(Math.abs(sum - 1) < 1e-6, `${sum}`));
    loaded.model.dispose();

    // The service's own table has no such row: the same folder is refused by name.
    await assert.rejects(loadModel(join(tmp.dir, 'models'), 'lin'), isOodError('MODEL_INVALID', 'runtime "linear" is unknown; valid choices: onnx, tfjs'));
    // The runtime's files are checksummed like any other.
    const stored = join(tmp.dir, 'models', 'lin', LINEAR_FILE);
    await writeFile(stored, (await readFile(stored, 'utf8')).replace('2', '3'));
    await assert.rejects(loadModel(join(tmp.dir, 'models'), 'lin', [], runtimes), isOodError('MODEL_INVALID', stored, 'fails its checksum'));
  });
});
