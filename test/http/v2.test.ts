import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { FakeDetector, FakeHost } from './fake-detector.js';
import { assertPlainError, buildTestApp } from './helpers.js';

interface V2Output {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}

const ROWS = [
  [0.1, 0.2, 0.3, 0.4],
  [10, 1, 0, 0],
];
/** The fake scores max |x| / 10, of the float32 values it is given. */
const SCORES = [Math.fround(0.4) / 10, 1];

/** The binary tensor data extension: the JSON header, then the tensors' bytes. */
function binaryBody(header: object, tensor: Buffer): { payload: Buffer; headers: Record<string, string> } {
  const json = Buffer.from(JSON.stringify(header));
  return {
    payload: Buffer.concat([json, tensor]),
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(json.length) },
  };
}

describe('Open Inference Protocol v2 (REST)', () => {
  const detector = new FakeDetector();
  const host = new FakeHost();
  let app: FastifyInstance;

  before(async () => {
    app = await buildTestApp(host, { maxBatch: 3, bodyLimitBytes: 100_000 });
  });
  after(() => app.close());

  const infer = (payload: unknown, url = '/v2/models/fake/infer') => app.inject({ method: 'POST', url, payload: payload as object });

  it('is live at once, and ready (server and model) only once the model is loaded', async () => {
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v2/health/live' })).json(), { live: true });
    let res = await app.inject({ method: 'GET', url: '/v2/health/ready' });
    assert.equal(res.statusCode, 503);
    assert.deepEqual(res.json(), { ready: false });
    res = await app.inject({ method: 'GET', url: '/v2/models/fake/ready' });
    assert.equal(res.statusCode, 503);
    assert.deepEqual(res.json(), { name: 'fake', ready: false });
    assertPlainError(await infer({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: ROWS[0] }] }), 503, /not loaded yet/);

    host.current = detector;
    res = await app.inject({ method: 'GET', url: '/v2/health/ready' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { ready: true });
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v2/models/fake/ready' })).json(), { name: 'fake', ready: true });
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v2/models/fake/versions/1.2.3/ready' })).json(), { name: 'fake', ready: true });
  });

  it('describes the server and the model, with every output the answers carry', async () => {
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v2' })).json(), { name: 'ood-service', version: pkg.version, extensions: ['binary_tensor_data'] });
    for (const url of ['/v2/models/fake', '/v2/models/fake/versions/1.2.3', '/v2/models/default']) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      const meta = res.json() as { name: string; versions: string[]; inputs: unknown[]; outputs: { name: string; datatype: string; shape: number[] }[] };
      assert.equal(meta.name, 'fake');
      assert.deepEqual(meta.versions, ['1.2.3']);
      assert.deepEqual(meta.inputs, [{ name: 'features', datatype: 'FP32', shape: [-1, 4] }]);
      const byName = Object.fromEntries(meta.outputs.map((o) => [o.name, o]));
      assert.deepEqual(byName.probabilities, { name: 'probabilities', datatype: 'FP32', shape: [-1, 2] });
      assert.deepEqual(byName.outlier_score, { name: 'outlier_score', datatype: 'FP64', shape: [-1] });
      assert.deepEqual(byName.is_outlier, { name: 'is_outlier', datatype: 'BOOL', shape: [-1] });
      assert.deepEqual(byName.in_class_neighbors, { name: 'in_class_neighbors', datatype: 'INT64', shape: [-1, 2] });
      for (const signal of ['label', 'distance', 'density']) assert.ok(byName[`p_value_${signal}`], signal);
    }
    assertPlainError(await app.inject({ method: 'GET', url: '/v2/models/fake/versions/7' }), 404, /serves version 1\.2\.3, not 7/);
    assertPlainError(await app.inject({ method: 'GET', url: '/v2/models/other' }), 404, /No model "other"/);
    assertPlainError(await app.inject({ method: 'GET', url: '/v2/nothing/here' }), 404, /No route GET \/v2\/nothing\/here/);
  });

  it('answers the spec example form: the id echoed and only the requested output, as a tensor', async () => {
    const res = await infer({
      id: '42',
      inputs: [{ name: 'input0', shape: [2, 4], datatype: 'FP32', data: ROWS.flat() }],
      outputs: [{ name: 'outlier_score' }, { name: 'is_outlier' }],
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { model_name: string; model_version: string; id: string; outputs: V2Output[] };
    assert.equal(body.model_name, 'fake');
    assert.equal(body.model_version, '1.2.3');
    assert.equal(body.id, '42');
    // Significance 0.05 flags the second.
    assert.deepEqual(body.outputs, [
      { name: 'outlier_score', datatype: 'FP64', shape: [2], data: SCORES },
      { name: 'is_outlier', datatype: 'BOOL', shape: [2], data: [false, true] },
    ]);
  });

  it('answers with every output when none is named, agreeing with POST /predict', async () => {
    const res = await infer({ inputs: [{ name: 'features', shape: [2, 2, 2], datatype: 'FP64', data: [[[0.1, 0.2], [0.3, 0.4]], [[10, 1], [0, 0]]] }] });
    assert.equal(res.statusCode, 200, res.body);
    const outputs = Object.fromEntries((res.json() as { outputs: V2Output[] }).outputs.map((o) => [o.name, o]));
    const own = (await app.inject({ method: 'POST', url: '/predict', payload: { instances: ROWS } })).json() as {
      predictions: { probabilities: number[]; label: string; p_values: Record<string, number>; layers: { in_class_neighbors: number }[] }[];
    };
    assert.deepEqual(outputs.probabilities, { name: 'probabilities', datatype: 'FP32', shape: [2, 2], data: own.predictions.flatMap((p) => p.probabilities) });
    assert.deepEqual(outputs.label.data, own.predictions.map((p) => p.label));
    assert.deepEqual(outputs.label.datatype, 'BYTES');
    assert.deepEqual(outputs.p_value.data, own.predictions.map((p) => p.p_values.combined));
    assert.deepEqual(outputs.p_value_density.data, own.predictions.map((p) => p.p_values.density));
    assert.deepEqual(outputs.in_class_neighbors, {
      name: 'in_class_neighbors',
      datatype: 'INT64',
      shape: [2, 2],
      data: own.predictions.flatMap((p) => p.layers.map((l) => l.in_class_neighbors)),
    });
  });

  it('takes integer data types, and refuses values outside them, naming the element', async () => {
    const res = await infer({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'UINT8', data: [0, 1, 2, 255] }], outputs: [{ name: 'outlier_score' }] });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(detector.calls.at(-1)?.inputs, Float32Array.from([0, 1, 2, 255]));
    assertPlainError(await infer({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'UINT8', data: [0, 1, 2, 256] }] }), 400, /inputs\[0\]\.data\[3\] is 256, not a UINT8 value/);
    assertPlainError(await infer({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'INT32', data: [0, 1.5, 2, 3] }] }), 400, /inputs\[0\]\.data\[1\] is 1\.5, not a INT32 value/);
  });

  it('takes the binary tensor data extension, with the same answer as JSON', async () => {
    const tensor = Buffer.from(Float32Array.from(ROWS.flat()).buffer);
    const { payload, headers } = binaryBody(
      { inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP32', parameters: { binary_data_size: tensor.length } }], outputs: [{ name: 'outlier_score' }] },
      tensor,
    );
    const res = await app.inject({ method: 'POST', url: '/v2/models/fake/infer', headers, payload });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual((res.json() as { outputs: V2Output[] }).outputs[0].data, SCORES);
    const float16 = binaryBody(
      { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP16', parameters: { binary_data_size: 8 } }] },
      // 0.5, 1, -2, 0 as IEEE half floats.
      Buffer.from(Uint16Array.from([0x3800, 0x3c00, 0xc000, 0x0000]).buffer),
    );
    assert.equal((await app.inject({ method: 'POST', url: '/v2/models/fake/infer', headers: float16.headers, payload: float16.payload })).statusCode, 200);
    assert.deepEqual(detector.calls.at(-1)?.inputs, Float32Array.from([0.5, 1, -2, 0]));

    const short = binaryBody({ inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP32', parameters: { binary_data_size: 16 } }] }, tensor.subarray(0, 16));
    assertPlainError(await app.inject({ method: 'POST', url: '/v2/models/fake/infer', headers: short.headers, payload: short.payload }), 400, /16 bytes of binary data; its shape and datatype FP32 need 32/);
    const overrun = binaryBody({ inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP32', parameters: { binary_data_size: 64 } }] }, tensor);
    assertPlainError(await app.inject({ method: 'POST', url: '/v2/models/fake/infer', headers: overrun.headers, payload: overrun.payload }), 400, /binary_data_size is 64; 32 bytes/);
    assertPlainError(
      await app.inject({ method: 'POST', url: '/v2/models/fake/infer', headers: { ...headers, 'inference-header-content-length': '99999' }, payload }),
      400,
      /Inference-Header-Content-Length is "99999"/,
    );
    assertPlainError(
      await app.inject({ method: 'POST', url: '/v2/models/fake/infer', headers: { 'content-type': 'application/octet-stream' }, payload }),
      400,
      /needs the Inference-Header-Content-Length header/,
    );
  });

  const refusals: [string, unknown, number, RegExp][] = [
    ['no inputs', { id: '1' }, 400, /body\.inputs/],
    ['two input tensors', { inputs: [{ name: 'a', shape: [1, 4], datatype: 'FP32', data: ROWS[0] }, { name: 'b', shape: [1, 4], datatype: 'FP32', data: ROWS[0] }] }, 400, /takes one, features/],
    ['a shape that is not [N, 4]', { inputs: [{ name: 'x', shape: [4], datatype: 'FP32', data: ROWS[0] }] }, 400, /shape \[4\] does not hold instances.*\[N, 4\]/],
    ['fewer values than the shape', { inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP32', data: ROWS[0] }] }, 400, /holds 4 values; its shape gives 8/],
    ['more values than the shape', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: ROWS.flat() }] }, 400, /holds 8 values; its shape gives 4/],
    ['a string value', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, '3', 4] }] }, 400, /data\[2\] must be a finite number/],
    ['a BYTES tensor', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'BYTES', data: ['a', 'b', 'c', 'd'] }] }, 400, /"BYTES" is not a numeric type/],
    ['an unknown output', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: ROWS[0] }], outputs: [{ name: 'logits' }] }, 400, /outputs names "logits"; model fake has probabilities/],
    ['more rows than allowed', { inputs: [{ name: 'x', shape: [4, 4], datatype: 'FP32', data: Array(16).fill(0) }] }, 400, /4 instances; at most 3/],
    ['no data', { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32' }] }, 400, /no data/],
  ];
  for (const [what, body, status, message] of refusals) {
    it(`refuses ${what} with {"error": "..."}`, async () => {
      assertPlainError(await infer(body), status, message);
    });
  }

  it('refuses an unknown model or version with a 404, and a body that is not JSON with a 400', async () => {
    const body = { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: ROWS[0] }] };
    assertPlainError(await infer(body, '/v2/models/other/infer'), 404, /No model "other"/);
    assertPlainError(await infer(body, '/v2/models/fake/versions/2/infer'), 404, /not 2/);
    assert.equal((await infer(body, '/v2/models/fake/versions/1.2.3/infer')).statusCode, 200);
    const res = await app.inject({ method: 'POST', url: '/v2/models/fake/infer', headers: { 'content-type': 'application/json' }, payload: '{"inputs": [' });
    assertPlainError(res, 400);
    assertPlainError(await app.inject({ method: 'POST', url: '/v2/models/%zz/infer', payload: body }), 400, /not a valid URL path/);
    assertPlainError(await app.inject({ method: 'GET', url: '/v1/models' }), 404, /No route GET \/v1\/models/);
  });
});

describe('Open Inference Protocol v2 with bearer tokens', () => {
  it('needs the token for infer, and not for health or metadata', async () => {
    const app = await buildTestApp(new FakeHost(new FakeDetector()), { apiTokens: ['v2-token'] });
    try {
      const payload = { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: ROWS[0] }] };
      assertPlainError(await app.inject({ method: 'POST', url: '/v2/models/fake/infer', payload }), 401);
      const ok = await app.inject({ method: 'POST', url: '/v2/models/fake/infer', payload, headers: { authorization: 'Bearer v2-token' } });
      assert.equal(ok.statusCode, 200);
      assert.equal((await app.inject({ method: 'GET', url: '/v2/models/fake' })).statusCode, 200);
    } finally {
      await app.close();
    }
  });
});

describe('Open Inference Protocol v2: what stock clients send', () => {
  it("reads a body with Inference-Header-Content-Length as binary whatever its Content-Type, as Triton's Python client sends it", async () => {
    const detector = new FakeDetector();
    const app = await buildTestApp(new FakeHost(detector), { bodyLimitBytes: 100_000 });
    try {
      const tensor = Buffer.from(Float32Array.from(ROWS[0]).buffer);
      const { payload, headers } = binaryBody({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: 16 } }] }, tensor);
      for (const contentType of [undefined, 'application/json']) {
        const res = await app.inject({
          method: 'POST',
          url: '/v2/models/fake/infer',
          headers: { 'inference-header-content-length': headers['inference-header-content-length'], ...(contentType ? { 'content-type': contentType } : {}) },
          payload,
        });
        assert.equal(res.statusCode, 200, `${contentType}: ${res.body}`);
        assert.deepEqual(detector.calls.at(-1)?.inputs, Float32Array.from(ROWS[0]));
      }
    } finally {
      await app.close();
    }
  });

  it('refuses nested data that does not follow its shape, even with the right count', async () => {
    const app = await buildTestApp(new FakeHost(new FakeDetector()), { maxBatch: 3 });
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/v2/models/fake/infer',
        payload: { inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP32', data: [[1, 2, 3], [4, 5, 6, 7, 8]] }] },
      });
      assertPlainError(res, 400, /inputs\[0\]\.data\[0\] holds 3 elements; the shape \[2, 4\] gives 4 there/);
      const twice = await app.inject({
        method: 'POST',
        url: '/v2/models/fake/infer',
        payload: { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: ROWS[0] }], outputs: [{ name: 'label' }, { name: 'label' }] },
      });
      assertPlainError(twice, 400, /outputs names "label" twice/);
    } finally {
      await app.close();
    }
  });
});
