import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Config } from '../../src/config.js';
import { loadDetector } from '../../src/detector/load-detector.js';
import { detectorSettings } from '../../src/detector-settings.js';
import { createRng } from '../../src/math/random.js';
import { addModel, type AddModelOptions } from '../../src/onboarding/add-model.js';
import { npyBytes } from '../../src/reference/sources/npy-write.js';
import { isOodError } from '../fixtures/assertions.js';
import { configIn, onnxModelOptions } from '../fixtures/blobs.js';
import { onnxTokenModel, tokenForward } from '../fixtures/onnx-token-model.js';
import { makeTmp } from '../fixtures/tiny-model.js';
import { FakeHost } from '../http/fake-detector.js';
import { buildTestApp } from '../http/helpers.js';

const log = pino({ level: 'silent' });
const T = 6;
const ROWS = 400;

describe('add-model for a model with several inputs, one .npy file each', () => {
  const model = onnxTokenModel({ seqLen: T, vocab: 20, dim: 5, hidden: 4, classes: 3, seed: 10 });
  let tmp: Awaited<ReturnType<typeof makeTmp>>;
  let config: Config;
  let inputs: string;
  const ids: number[][] = [];
  const masks: number[][] = [];

  before(async () => {
    tmp = await makeTmp('multi-input-onboarding');
    inputs = join(tmp.dir, 'inputs');
    await mkdir(inputs);
    config = await configIn(tmp.dir);
    const rng = createRng(11);
    const labels: number[] = [];
    for (let r = 0; r < ROWS; r++) {
      const length = 1 + Math.floor(rng() * T);
      const row = Array.from({ length: T }, (_, t) => (t < length ? 2 + Math.floor(rng() * 18) : 0));
      const mask = row.map((_, t) => (t < length ? 1 : 0));
      ids.push(row);
      masks.push(mask);
      // The model's own classes: the labels agree with it, as a team's training labels would.
      const { logits } = tokenForward(model, row, mask);
      labels.push(logits.indexOf(Math.max(...logits)));
    }
    await writeFile(join(inputs, 'model.onnx'), model.bytes);
    await writeFile(join(inputs, 'ids.npy'), npyBytes('<i8', [ROWS, T], ids.flat().map(BigInt)));
    await writeFile(join(inputs, 'mask.npy'), npyBytes('<i8', [ROWS, T], masks.flat().map(BigInt)));
    await writeFile(join(inputs, 'y.npy'), npyBytes('<i8', [ROWS], labels.map(BigInt)));
    await writeFile(join(inputs, 'bad_ids.npy'), npyBytes('<f4', [ROWS, T], ids.flat().map((v, i) => (i === 3 * T + 1 ? 2.5 : v))));
    await writeFile(join(inputs, 'two_classes.npy'), npyBytes('<i8', [ROWS], labels.map((l) => BigInt(Math.min(l, 1)))));
    await writeFile(join(inputs, 'short_mask.npy'), npyBytes('<i8', [ROWS - 1, T], masks.slice(1).flat().map(BigInt)));
  });
  after(() => tmp.cleanup());

  const options = (data: string, name = 'tokens'): AddModelOptions => onnxModelOptions(name, join(inputs, 'model.onnx'), { data, labels: join(inputs, 'y.npy') });

  it('records the inputs, reads one file per input side by side, and serves the same scores on /predict and v2', async () => {
    const data = `input_ids=${join(inputs, 'ids.npy')},attention_mask=${join(inputs, 'mask.npy')}`;
    const result = await addModel(options(data), config, log);
    assert.deepEqual(result.manifest.inputs, [
      { name: 'input_ids', dtype: 'int64', shape: [T] },
      { name: 'attention_mask', dtype: 'int64', shape: [T] },
    ]);
    assert.deepEqual(result.manifest.input_shape, [2 * T]);
    assert.ok(!result.manifest.layers.includes('input'), result.manifest.layers.join(','));
    assert.deepEqual(result.referenceSet.source, {
      kind: 'npy',
      data: [
        { input: 'input_ids', file: 'data_0.npy' },
        { input: 'attention_mask', file: 'data_1.npy' },
      ],
      labels: 'labels.npy',
    });

    const detector = await loadDetector(detectorSettings({ ...config, model: 'tokens' }), log);
    const app = await buildTestApp(new FakeHost(detector), { bodyLimitBytes: 100_000 });
    try {
      const rows = [0, 1, 2];
      const viaPredict = await app.inject({
        method: 'POST',
        url: '/predict',
        payload: { instances: rows.map((r) => ({ input_ids: ids[r], attention_mask: masks[r] })) },
      });
      assert.equal(viaPredict.statusCode, 200, viaPredict.body);
      const predictions = viaPredict.json().predictions as { class_index: number; p_values: { combined: number } }[];
      rows.forEach((r, i) => {
        const { logits } = tokenForward(model, ids[r], masks[r]);
        assert.equal(predictions[i].class_index, logits.indexOf(Math.max(...logits)));
      });
      const viaV2 = await app.inject({
        method: 'POST',
        url: '/v2/models/tokens/infer',
        payload: {
          inputs: [
            { name: 'input_ids', shape: [3, T], datatype: 'INT64', data: rows.map((r) => ids[r]) },
            { name: 'attention_mask', shape: [3, T], datatype: 'INT64', data: rows.map((r) => masks[r]) },
          ],
        },
      });
      assert.equal(viaV2.statusCode, 200, viaV2.body);
      const pValues = (viaV2.json().outputs as { name: string; data: number[] }[]).find((o) => o.name === 'p_value')?.data;
      assert.deepEqual(pValues, predictions.map((p) => p.p_values.combined));
    } finally {
      await app.close();
      detector.dispose();
    }
  });

  it('packs files named in another order in the model\'s order', async () => {
    const swapped = `attention_mask=${join(inputs, 'mask.npy')},input_ids=${join(inputs, 'ids.npy')}`;
    const result = await addModel(options(swapped, 'swapped'), config, log);
    assert.deepEqual((result.referenceSet.source as { data: { input: string }[] }).data.map((f) => f.input), ['input_ids', 'attention_mask']);
    assert.equal(result.labelCheck.accuracy, 1);
  });

  it('refuses a value its input type cannot hold, and files that disagree on the rows, naming them', async () => {
    const bad = `input_ids=${join(inputs, 'bad_ids.npy')},attention_mask=${join(inputs, 'mask.npy')}`;
    await assert.rejects(addModel(options(bad, 'bad'), config, log), isOodError('DATA_INVALID', 'row 3, input input_ids, value 1', 'must be a whole number'));
    const short = `input_ids=${join(inputs, 'ids.npy')},attention_mask=${join(inputs, 'short_mask.npy')}`;
    await assert.rejects(addModel(options(short, 'short'), config, log), isOodError('DATA_INVALID', 'short_mask.npy', `holds ${ROWS - 1} rows`));
    const twoClasses = { ...options(`input_ids=${join(inputs, 'ids.npy')},attention_mask=${join(inputs, 'mask.npy')}`, 'two'), force: true };
    twoClasses.data.labels = join(inputs, 'two_classes.npy');
    await assert.rejects(addModel(twoClasses, config, log), isOodError('DATA_INVALID', 'no rows of class "2"', 'two_classes.npy'));
    const unknown = `ids=${join(inputs, 'ids.npy')},mask=${join(inputs, 'mask.npy')}`;
    await assert.rejects(addModel(options(unknown, 'unknown'), config, log), isOodError('CONFIG_INVALID', '--data names "ids", "mask"', "the model's inputs are input_ids, attention_mask"));
    const missing = `input_ids=${join(inputs, 'ids.npy')}`;
    await assert.rejects(addModel(options(missing, 'missing'), config, log), isOodError('CONFIG_INVALID', '--data gives no file for attention_mask'));
    const one = join(inputs, 'ids.npy');
    await assert.rejects(addModel(options(one, 'one'), config, log), isOodError('DATA_INVALID', 'has 6 values per row', 'input_ids [6] + attention_mask [6]'));
  });
});
