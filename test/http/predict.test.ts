import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { PredictResponseSchema } from '../../src/http/schemas.js';
import { MAX_INSTANCE_DEPTH } from '../../src/http/instances.js';
import { FakeDetector, FakeHost } from './fake-detector.js';
import { TEST_BODY_LIMIT_BYTES, assertError, buildTestApp } from './helpers.js';

const json = { 'content-type': 'application/json' };

describe('POST /predict', () => {
  const detector = new FakeDetector();
  let app: FastifyInstance;

  before(async () => {
    app = await buildTestApp(new FakeHost(detector));
  });
  after(() => app.close());

  it('scores flat and nested instances and answers the contract schema', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/predict',
      payload: { instances: [[0.1, 0.9, 0.2, 0.3], [[0.8, 0.1], [0, 0]], [10, 10, 10, 10]] },
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = PredictResponseSchema.parse(res.json());
    assert.deepEqual(body.model, { name: 'fake', version: '1.2.3' });
    assert.equal(body.significance, 0.05);
    assert.deepEqual(
      body.predictions.map((p) => [p.label, p.is_outlier]),
      [
        ['b', false],
        ['a', false],
        ['a', true],
      ],
    );
    assert.equal(body.predictions[0].layers[0].neighbor_ids, undefined);

    const call = detector.calls.at(-1);
    assert.equal(call?.rows, 3);
    assert.deepEqual(Array.from(call?.inputs ?? []), Array.from(new Float32Array([0.1, 0.9, 0.2, 0.3, 0.8, 0.1, 0, 0, 10, 10, 10, 10])));
    assert.deepEqual(call?.options, { includeNeighbors: false });
  });

  it('passes include_neighbors through to the detector', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/predict',
      payload: { instances: [[0, 0, 0, 0]], include_neighbors: true },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(PredictResponseSchema.parse(res.json()).predictions[0].layers[0].neighbor_ids, [0, 1, 2]);
  });

  const rejected: Array<{
    name: string;
    payload: string | object;
    headers?: Record<string, string>;
    status: number;
    code: string;
    message?: RegExp;
  }> = [
    { name: 'malformed JSON', payload: '{"instances": [[1, 2', headers: json, status: 400, code: 'BAD_REQUEST' },
    { name: 'an empty JSON body', payload: '', headers: json, status: 400, code: 'BAD_REQUEST' },
    {
      name: 'a prototype-poisoning key',
      payload: '{"instances": [[1,2,3,4]], "__proto__": {"x": 1}}',
      headers: json,
      status: 400,
      code: 'BAD_REQUEST',
    },
    {
      name: 'text/plain',
      payload: '{"instances": [[1,2,3,4]]}',
      headers: { 'content-type': 'text/plain' },
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'form encoding',
      payload: 'instances=1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
    { name: 'a JSON null body', payload: 'null', headers: json, status: 400, code: 'BAD_REQUEST', message: /^body:/ },
    { name: 'missing instances', payload: {}, status: 400, code: 'BAD_REQUEST', message: /body\.instances/ },
    { name: 'instances not an array', payload: { instances: 7 }, status: 400, code: 'BAD_REQUEST', message: /body\.instances/ },
    { name: 'empty instances', payload: { instances: [] }, status: 400, code: 'BAD_REQUEST', message: /at least one instance/ },
    {
      name: 'a null instance',
      payload: { instances: [[1, 2, 3, 4], null] },
      status: 400,
      code: 'BAD_REQUEST',
      message: /body\.instances\[1\]/,
    },
    {
      name: 'include_neighbors not a boolean',
      payload: { instances: [[1, 2, 3, 4]], include_neighbors: 'yes' },
      status: 400,
      code: 'BAD_REQUEST',
      message: /body\.include_neighbors/,
    },
    {
      name: 'too many instances',
      payload: { instances: [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]] },
      status: 400,
      code: 'BATCH_TOO_LARGE',
      message: /4 instances; at most 3/,
    },
    {
      name: 'a wrong length',
      payload: { instances: [[1, 2, 3, 4], [1, 2, 3]] },
      status: 400,
      code: 'INVALID_INSTANCE',
      message: /^instances\[1\] has 3 values; the model expects 4 values \(input_shape \[4\]\)$/,
    },
    {
      name: 'a nested instance of the wrong size',
      payload: { instances: [[[1, 2, 3], [4, 5, 6]]] },
      status: 400,
      code: 'INVALID_INSTANCE',
      message: /instances\[0\] has shape \[2, 3\] \(6 values\); the model expects 4/,
    },
    {
      name: 'a ragged nested instance',
      payload: { instances: [[[1, 2], [3]]] },
      status: 400,
      code: 'INVALID_INSTANCE',
      message: /instances\[0\]\[1\] should be an array of 2 elements.*got 1 elements/,
    },
    {
      name: 'an array where a number belongs',
      payload: { instances: [[1, [2], 3, 4]] },
      status: 400,
      code: 'INVALID_INSTANCE',
      message: /instances\[0\]\[1\] must be a finite number.*got an array/,
    },
    {
      name: 'an empty instance',
      payload: { instances: [[]] },
      status: 400,
      code: 'INVALID_INSTANCE',
      message: /instances\[0\] is an empty array/,
    },
    {
      name: 'a string in an instance',
      payload: { instances: [[1, 2, '3', 4]] },
      status: 400,
      code: 'INVALID_INSTANCE',
      message: /instances\[0\]\[2\] must be a finite number.*got a string/,
    },
    {
      name: 'null in an instance',
      payload: { instances: [[[1, 2], [null, 4]]] },
      status: 400,
      code: 'INVALID_INSTANCE',
      message: /instances\[0\]\[1\]\[0\] .*got null/,
    },
    {
      name: '1e999, which JSON.parse turns into Infinity',
      payload: '{"instances": [[1, 2, 1e999, 4]]}',
      headers: json,
      status: 400,
      code: 'INVALID_INSTANCE',
      message: /instances\[0\]\[2\] .*got Infinity/,
    },
    {
      name: 'a finite double that overflows float32',
      payload: '{"instances": [[1, 2, 3, -1e39]]}',
      headers: json,
      status: 400,
      code: 'INVALID_INSTANCE',
      message: /instances\[0\]\[3\] .*float32/,
    },
    {
      name: 'nesting deeper than allowed',
      payload: `{"instances": [${'['.repeat(MAX_INSTANCE_DEPTH + 1)}1${']'.repeat(MAX_INSTANCE_DEPTH + 1)}]}`,
      headers: json,
      status: 400,
      code: 'INVALID_INSTANCE',
      message: /nested deeper than/,
    },
    {
      name: 'a body over the limit',
      payload: { instances: [Array.from({ length: TEST_BODY_LIMIT_BYTES }, () => 0.5)] },
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    },
  ];

  for (const { name, payload, headers, status, code, message } of rejected) {
    it(`answers ${status} ${code} for ${name}`, async () => {
      const res = await app.inject({ method: 'POST', url: '/predict', payload, headers });
      const body = assertError(res, status, code);
      if (message) assert.match(body.error.message, message);
    });
  }

  it('still answers /healthz after every rejection', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
  });
});

describe('failures inside the detector', () => {
  it('answers 500 INTERNAL without leaking the error', async () => {
    const detector = new FakeDetector();
    detector.predict = async () => {
      throw new Error('ENOENT: /secret/path/index.bin');
    };
    const app = await buildTestApp(new FakeHost(detector));
    try {
      const res = await app.inject({ method: 'POST', url: '/predict', payload: { instances: [[0, 0, 0, 0]] } });
      const body = assertError(res, 500, 'INTERNAL');
      assert.doesNotMatch(res.body, /secret/);
      assert.equal(body.error.message, 'Internal error');
    } finally {
      await app.close();
    }
  });

  it('answers 500 INTERNAL when the detector returns something off-contract', async () => {
    const detector = new FakeDetector();
    const predict = detector.predict.bind(detector);
    detector.predict = async (inputs, rows, options) => {
      const result = await predict(inputs, rows, options);
      result.predictions[0].outlier_score = Number.NaN;
      return result;
    };
    const app = await buildTestApp(new FakeHost(detector));
    try {
      const res = await app.inject({ method: 'POST', url: '/predict', payload: { instances: [[0, 0, 0, 0]] } });
      assertError(res, 500, 'INTERNAL');
    } finally {
      await app.close();
    }
  });
});

describe('logging', () => {
  it('never writes request bodies to the log', async () => {
    const lines: string[] = [];
    const stream = { write: (line: string) => void lines.push(line) };
    const app = await buildTestApp(new FakeHost(new FakeDetector()), { logger: { level: 'trace', stream } });
    try {
      await app.inject({ method: 'POST', url: '/predict', payload: { instances: [[0.123456, 0, 0, 0]] } });
      await app.inject({ method: 'POST', url: '/predict', payload: { instances: [[1, 'leaked-secret', 3, 4]] } });
      await app.inject({ method: 'POST', url: '/predict', payload: { instances: [[1, 2, 3]], note: 'leaked-secret' } });
      assert.ok(lines.length > 0, 'the logger saw the requests');
      const log = lines.join('');
      assert.doesNotMatch(log, /leaked-secret/);
      assert.doesNotMatch(log, /0\.123456/);
    } finally {
      await app.close();
    }
  });
});
