import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { FakeDetector, FakeHost } from './fake-detector.js';
import { assertPlainError, buildTestApp } from './helpers.js';

const ROWS = [
  [0.1, 0.2, 0.3, 0.4],
  [10, 1, 0, 0],
];
/** The fake scores max |x| / 10, of the float32 values it is given. */
const SCORES = [Math.fround(0.4) / 10, 1];

type Row = Record<string, unknown>;

describe('TensorFlow Serving REST', () => {
  const detector = new FakeDetector();
  let app: FastifyInstance;

  before(async () => {
    app = await buildTestApp(new FakeHost(detector), { maxBatch: 3, bodyLimitBytes: 100_000 });
  });
  after(() => app.close());

  const predict = (payload: unknown, url = '/v1/models/fake:predict') => app.inject({ method: 'POST', url, payload: payload as object });

  it('gives the model status by name, by "default" and by version', async () => {
    for (const url of ['/v1/models/fake', '/v1/models/default', '/v1/models/fake/versions/1.2.3']) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.deepEqual(res.json(), { model_version_status: [{ version: '1.2.3', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
    }
    assertPlainError(await app.inject({ method: 'GET', url: '/v1/models/fake/versions/2' }), 404, /not 2/);
    assertPlainError(await app.inject({ method: 'GET', url: '/v1/models/nope' }), 404, /No model "nope"/);
  });

  it('gives the signature in the metadata: the named input and every output', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/models/fake/metadata' });
    assert.equal(res.statusCode, 200);
    const body = res.json() as { model_spec: Row; metadata: { signature_def: { signature_def: Record<string, { inputs: Record<string, Row>; outputs: Record<string, Row>; method_name: string }> } } };
    assert.deepEqual(body.model_spec, { name: 'fake', signature_name: '', version: '1.2.3' });
    const signature = body.metadata.signature_def.signature_def.serving_default;
    assert.equal(signature.method_name, 'tensorflow/serving/predict');
    assert.deepEqual(signature.inputs.features, {
      dtype: 'DT_FLOAT',
      tensor_shape: { dim: [{ size: '-1', name: '' }, { size: '4', name: '' }], unknown_rank: false },
      name: 'features',
    });
    assert.equal(signature.outputs.outlier_score.dtype, 'DT_DOUBLE');
    assert.equal(signature.outputs.is_outlier.dtype, 'DT_BOOL');
    assert.equal(signature.outputs.label.dtype, 'DT_STRING');
    assert.equal(signature.outputs.in_class_neighbors.dtype, 'DT_INT64');
  });

  it('answers the row format with one object per instance, keyed by output name', async () => {
    for (const [payload, url] of [
      [{ instances: ROWS }, '/v1/models/fake:predict'],
      [{ signature_name: 'serving_default', instances: ROWS.map((features) => ({ features })) }, '/v1/models/fake/versions/1.2.3:predict'],
      [{ instances: ROWS }, '/v1/models/default:predict'],
    ] as const) {
      const res = await predict(payload, url);
      assert.equal(res.statusCode, 200, res.body);
      const { predictions } = res.json() as { predictions: Row[] };
      assert.equal(predictions.length, 2);
      assert.deepEqual(predictions.map((p) => p.outlier_score), SCORES);
      assert.deepEqual(predictions.map((p) => p.is_outlier), [false, true]);
      assert.deepEqual(predictions[1].probabilities, [0.75, 0.25]);
      assert.equal(predictions[1].label, 'a');
      assert.deepEqual(predictions[1].in_class_neighbors, [0, 0]);
      assert.equal(typeof predictions[0].p_value_density, 'number');
    }
  });

  it('answers the columnar format with one tensor per output', async () => {
    for (const inputs of [ROWS, { features: ROWS }]) {
      const res = await predict({ inputs });
      assert.equal(res.statusCode, 200, res.body);
      const { outputs } = res.json() as { outputs: Row };
      assert.deepEqual(outputs.outlier_score, SCORES);
      assert.deepEqual(outputs.probabilities, [[0.25, 0.75], [0.75, 0.25]]);
      assert.deepEqual(outputs.in_class_neighbors, [[3, 3], [0, 0]]);
    }
  });

  const refusals: [string, unknown, RegExp][] = [
    ['both formats at once', { instances: ROWS, inputs: ROWS }, /either "instances".*or "inputs"/],
    ['neither format', { signature_name: 'serving_default' }, /either "instances"/],
    ['another signature', { signature_name: 'classify', instances: ROWS }, /signature_name "classify" is not served/],
    ['an instance naming two inputs', { instances: [{ features: ROWS[0], extra: [1] }] }, /instances\[0\] names the inputs "features", "extra"; model fake takes one, features/],
    ['an instance of the wrong length', { instances: [[1, 2, 3]] }, /instances\[0\] has 3 values; the model expects 4/],
    ['too many instances', { instances: [ROWS[0], ROWS[0], ROWS[0], ROWS[0]] }, /4 instances; at most 3/],
    ['columnar inputs that are not a list', { inputs: { features: 7 } }, /inputs must be a list of instances/],
  ];
  for (const [what, body, message] of refusals) {
    it(`refuses ${what} with {"error": "..."}`, async () => {
      assertPlainError(await predict(body), 400, message);
    });
  }

  it('refuses an unknown model with a 404 and an unknown verb with a plain 404', async () => {
    assertPlainError(await predict({ instances: ROWS }, '/v1/models/nope:predict'), 404, /No model "nope"/);
    assertPlainError(await predict({ instances: ROWS }, '/v1/models/fake:regress'), 404, /No route POST/);
  });
});

describe('TensorFlow Serving REST with {"b64": ...} images', () => {
  it('decodes a named b64 image input with the manifest preprocessing', async () => {
    const imageModel = new FakeDetector({
      info: { input_shape: [1, 2, 2], input_name: 'image', preprocessing: { width: 2, height: 2, channels: 1, layout: 'nchw', scale: 1 / 255, mean: [0], std: [1] } },
    });
    const app = await buildTestApp(new FakeHost(imageModel), { bodyLimitBytes: 100_000 });
    try {
      const png = await sharp(Buffer.from([0, 51, 102, 255]), { raw: { width: 2, height: 2, channels: 1 } }).png().toBuffer();
      const res = await app.inject({ method: 'POST', url: '/v1/models/fake:predict', payload: { instances: [{ image: { b64: png.toString('base64') } }] } });
      assert.equal(res.statusCode, 200, res.body);
      const expected = [0, 51 / 255, 102 / 255, 1];
      Array.from(imageModel.calls.at(-1)?.inputs ?? []).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `${i}: ${v}`));
      assertPlainError(
        await app.inject({ method: 'POST', url: '/v1/models/fake:predict', payload: { instances: [{ image: { b64: 'not base64!' } }] } }),
        400,
        /instances\[0\]\.image\.b64 is not base64/,
      );
    } finally {
      await app.close();
    }
  });
});
