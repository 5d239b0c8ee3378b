import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { Config } from '../../src/config.js';
import type { DeepKnnDetector } from '../../src/detector/deep-knn-detector.js';
import { loadDetector } from '../../src/detector/load-detector.js';
import { detectorSettings } from '../../src/detector-settings.js';
import { addModel, type AddModelOptions } from '../../src/onboarding/add-model.js';
import { isOodError } from '../fixtures/assertions.js';
import { configIn, onnxModelOptions } from '../fixtures/blobs.js';
import { oracleIds, textData, writeTextFixture, type TextFixture } from '../fixtures/text-model.js';
import { makeTmp } from '../fixtures/tiny-model.js';
import { FakeHost } from '../http/fake-detector.js';
import { buildTestApp } from '../http/helpers.js';
import { oipClient } from '../http/grpc-client.js';

const log = pino({ level: 'silent' });
const T = 6;

describe('a text classifier: onboarded from labelled texts with its tokenizer, and served to clients that send strings', () => {
  let tmp: Awaited<ReturnType<typeof makeTmp>>;
  let config: Config;
  let fixture: TextFixture;
  let detector: DeepKnnDetector | undefined;
  let app: FastifyInstance | undefined;

  const options = (overrides: Partial<AddModelOptions> = {}, data: Partial<AddModelOptions['data']> = {}): AddModelOptions =>
    onnxModelOptions('texts', fixture.modelFile, { ...textData(fixture), ...data }, { tokenizer: fixture.tokenizerFile, ...overrides });

  before(async () => {
    tmp = await makeTmp('text-model');
    config = await configIn(tmp.dir);
    fixture = await writeTextFixture(join(tmp.dir, 'inputs'), 360, T);
  });
  after(async () => {
    await app?.close();
    detector?.dispose();
    await tmp.cleanup();
  });

  it('refuses texts without a tokenizer, and class names in another order than the model\'s', async () => {
    await assert.rejects(addModel(options({ name: 'no-tokenizer', tokenizer: undefined }), config, log), isOodError('CONFIG_INVALID', '--tokenizer tokenizer.json'));
    // Sorted names (eggs, ham, spam) are not the model's order (ham, spam, eggs).
    await assert.rejects(addModel(options({ name: 'sorted' }, { classes: undefined }), config, log), isOodError('DATA_INVALID', '--classes'));
  });

  it('records the tokenizer and its inputs, and reads CSV and JSON Lines alike', async () => {
    const result = await addModel(options(), config, log);
    assert.deepEqual(result.manifest.text, { max_length: T, fields: { input_ids: 'input_ids', attention_mask: 'attention_mask' }, max_chars: 20_000 });
    assert.deepEqual(result.manifest.inputs?.map((i) => i.name), ['input_ids', 'attention_mask']);
    assert.equal(result.referenceSet.source.kind, 'text');
    assert.equal(result.labelCheck.accuracy, 1);
    const jsonl = await addModel(options({ name: 'texts-jsonl' }, { data: fixture.jsonl }), config, log);
    assert.equal(jsonl.labelCheck.accuracy, 1);
  });

  it('gives identical answers for the same texts from /predict strings, v2 BYTES (JSON and binary), v2 INT64 ids, and TF Serving strings', async () => {
    detector = await loadDetector(detectorSettings({ ...config, model: 'texts' }), log);
    app = await buildTestApp(new FakeHost(detector), { bodyLimitBytes: 100_000, grpc: { maxMessageBytes: 100_000 } });
    const texts = [fixture.texts[0], 'Alpha BRAVO zulu', 'kilo lima mike november oscar papa quebec romeo alpha'];
    const post = (url: string, payload: unknown, headers: Record<string, string> = {}) => (app as FastifyInstance).inject({ method: 'POST', url, payload: payload as object, headers });
    const predict = await post('/predict', { instances: texts });
    assert.equal(predict.statusCode, 200, predict.body);
    const expected = (predict.json().predictions as { p_values: { combined: number } }[]).map((p) => p.p_values.combined);
    const v2PValues = (res: Awaited<ReturnType<typeof post>>) => {
      assert.equal(res.statusCode, 200, res.body);
      return (res.json().outputs as { name: string; data: number[] }[]).find((o) => o.name === 'p_value')?.data;
    };
    assert.deepEqual(v2PValues(await post('/v2/models/texts/infer', { inputs: [{ name: 'text', shape: [3], datatype: 'BYTES', data: texts }] })), expected);
    const encoded = Buffer.concat(texts.flatMap((t) => {
      const bytes = Buffer.from(t, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      return [length, bytes];
    }));
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'text', shape: [3, 1], datatype: 'BYTES', parameters: { binary_data_size: encoded.length } }] }));
    const binary = await post('/v2/models/texts/infer', Buffer.concat([header, encoded]), { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) });
    assert.deepEqual(v2PValues(binary), expected);
    const tokens = texts.map((t) => oracleIds(t, T));
    const ids = await post('/v2/models/texts/infer', {
      inputs: [
        { name: 'input_ids', shape: [3, T], datatype: 'INT64', data: tokens.map((t) => t.ids) },
        { name: 'attention_mask', shape: [3, T], datatype: 'INT64', data: tokens.map((t) => t.mask) },
      ],
    });
    assert.deepEqual(v2PValues(ids), expected);

    // gRPC: the texts as typed bytes_contents, and as raw contents laid out as the binary body above.
    const client = oipClient(await ((app as FastifyInstance).grpc as NonNullable<FastifyInstance['grpc']>).listen(0, '127.0.0.1'));
    try {
      const outputs = [{ name: 'p_value' }];
      const typed = await client.call('ModelInfer', { modelName: 'texts', inputs: [{ name: 'text', datatype: 'BYTES', shape: [3], contents: { bytesContents: texts.map((t) => Buffer.from(t)) } }], outputs });
      assert.deepEqual((typed.outputs as { contents: { fp64Contents: number[] } }[])[0].contents.fp64Contents, expected);
      const raw = await client.call('ModelInfer', { modelName: 'texts', inputs: [{ name: 'text', datatype: 'BYTES', shape: [3, 1] }], outputs, rawInputContents: [encoded] });
      const pValues = (raw.rawOutputContents as Buffer[])[0];
      assert.deepEqual([0, 1, 2].map((i) => pValues.readDoubleLE(i * 8)), expected);
    } finally {
      client.close();
    }
    for (const body of [{ instances: texts }, { inputs: texts }, { inputs: { text: texts } }]) {
      const tf = await post('/v1/models/texts:predict', body);
      assert.equal(tf.statusCode, 200, tf.body);
      const json = tf.json() as { predictions?: { p_value: number }[]; outputs?: { p_value: number[] } };
      assert.deepEqual(json.predictions?.map((p) => p.p_value) ?? json.outputs?.p_value, expected, JSON.stringify(body));
    }
  });

  it('answers hostile text with a 4xx naming the problem', async () => {
    const send = (instance: unknown) => (app as FastifyInstance).inject({ method: 'POST', url: '/predict', payload: { instances: [instance] } });
    const cases: [unknown, RegExp][] = [
      ['', /instances\[0\] is empty/],
      ['   \n\t', /instances\[0\] is empty/],
      ['x'.repeat(20_001), /instances\[0\] is 20001 characters long; at most 20000/],
      ['alpha \ud800 bravo', /instances\[0\] is not valid Unicode/],
      [7, /instances\[0\]: each instance must be .* a string for a text model/],
      [[1, 2, 3], /instances\[0\] must be a string \(the text\) or an object/],
    ];
    for (const [instance, message] of cases) {
      const res = await send(instance);
      assert.equal(res.statusCode, 400, `${JSON.stringify(instance).slice(0, 40)}: ${res.body}`);
      assert.match(res.json().error.message, message, res.body);
    }
    // Token ids of the right type that the model's vocabulary does not have: the model's refusal, as a 422.
    const ids = { input_ids: [999_999, 0, 0, 0, 0, 0], attention_mask: [1, 0, 0, 0, 0, 0] };
    const beyond = await send(ids);
    assert.equal(beyond.statusCode, 422, beyond.body);
    assert.equal(beyond.json().error.code, 'MODEL_REFUSED_INPUT');
    assert.match(beyond.json().error.message, /the model cannot run on these inputs/);
    const v2 = await (app as FastifyInstance).inject({
      method: 'POST',
      url: '/v2/models/texts/infer',
      payload: { inputs: [{ name: 'input_ids', shape: [1, T], datatype: 'INT64', data: ids.input_ids }, { name: 'attention_mask', shape: [1, T], datatype: 'INT64', data: ids.attention_mask }] },
    });
    assert.equal(v2.statusCode, 422, v2.body);
    // Control characters are text like any other: the tokenizer splits them off, as in training.
    const control = await send('alpha\u0000bravo\u0007 charlie\u001b[31m');
    assert.equal(control.statusCode, 200, control.body);
    const bytes = await (app as FastifyInstance).inject({
      method: 'POST',
      url: '/v2/models/texts/infer',
      payload: { inputs: [{ name: 'text', shape: [2], datatype: 'BYTES', data: ['alpha', 3] }] },
    });
    assert.equal(bytes.statusCode, 400);
    assert.match(bytes.json().error, /inputs\[0\]\.data\[1\] must be a string/);
  });

  it('shows a flagged text on the review, with its nearest training texts', async () => {
    // Half of all inputs flagged, so that a few texts are surely kept for review.
    const reviewed = await loadDetector({ ...detectorSettings({ ...config, model: 'texts', significance: 0.5 }), keepReferences: true }, log);
    const reviewApp = await buildTestApp(new FakeHost(reviewed), { bodyLimitBytes: 100_000, reviewSize: 10, maxBatch: 8 });
    try {
      const texts = ['zulu zulu zulu', 'alpha bravo charlie', 'romeo romeo', 'Mike oscar zulu papa'];
      const res = await reviewApp.inject({ method: 'POST', url: '/predict', payload: { instances: texts } });
      assert.equal(res.statusCode, 200, res.body);
      const outliers = (await reviewApp.inject({ method: 'GET', url: '/v1/models/texts/outliers' })).json() as {
        display: { kind: string };
        entries: { text: string; layers: { nearest: { id: number; text: string }[] }[] }[];
      };
      assert.equal(outliers.display.kind, 'text');
      assert.ok(outliers.entries.length > 0, 'some text was flagged');
      for (const entry of outliers.entries) {
        // The text as the model saw it: lower case, unknown words as [UNK].
        assert.ok(texts.some((t) => oracleWords(t) === entry.text), entry.text);
        const nearest = entry.layers[0].nearest[0];
        const reference = (await reviewApp.inject({ method: 'GET', url: `/v1/models/texts/references/${nearest.id}` })).json() as { text: string };
        assert.equal(reference.text, nearest.text);
        assert.ok(fixture.texts.some((t) => oracleWords(t) === nearest.text), nearest.text);
      }
    } finally {
      await reviewApp.close();
      reviewed.dispose();
    }
  });
});

/** A text's first T words, lower case, unknown ones as [UNK]: what decoding its tokens gives. */
function oracleWords(text: string): string {
  return text.split(/\s+/).filter(Boolean).slice(0, T).map((w) => (w.toLowerCase() === 'zulu' ? '[UNK]' : w.toLowerCase())).join(' ');
}
