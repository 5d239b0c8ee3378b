import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { ModelInput } from '../../src/model/model-inputs.js';
import { FakeDetector, FakeHost } from './fake-detector.js';
import { assertPlainError, buildTestApp } from './helpers.js';
import { oipClient } from './grpc-client.js';

const INPUTS: ModelInput[] = [
  { name: 'input_ids', dtype: 'int64', shape: [4] },
  { name: 'attention_mask', dtype: 'int64', shape: [4] },
];
const IDS = [
  [101, 7, 9, 102],
  [101, 3, 102, 0],
];
const MASK = [
  [1, 1, 1, 1],
  [1, 1, 1, 0],
];
/** Packed rows: each row's ids, then its mask. */
const PACKED = [...IDS[0], ...MASK[0], ...IDS[1], ...MASK[1]];

function int64Bytes(rows: number[][]): Buffer {
  const out = Buffer.alloc(rows.flat().length * 8);
  rows.flat().forEach((v, i) => out.writeBigInt64LE(BigInt(v), i * 8));
  return out;
}

describe('a model with several named inputs, on every protocol', () => {
  const detector = new FakeDetector({ info: { name: 'tokens', input_shape: [8], input_name: 'input_ids', inputs: INPUTS } });
  let app: FastifyInstance;

  before(async () => {
    app = await buildTestApp(new FakeHost(detector), { maxBatch: 3, bodyLimitBytes: 100_000, grpc: { maxMessageBytes: 100_000 } });
  });
  after(() => app.close());

  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url, payload: payload as object, headers });

  it('packs the same rows from gRPC tensors by name, typed (in another order) and raw', async () => {
    const client = oipClient(await (app.grpc as NonNullable<typeof app.grpc>).listen(0, '127.0.0.1'));
    try {
      const before = detector.calls.length;
      await client.call('ModelInfer', {
        modelName: 'tokens',
        inputs: [
          { name: 'attention_mask', datatype: 'INT64', shape: [2, 4], contents: { int64Contents: MASK.flat() } },
          { name: 'input_ids', datatype: 'INT64', shape: [2, 4], contents: { int64Contents: IDS.flat() } },
        ],
      });
      await client.call('ModelInfer', {
        modelName: 'tokens',
        inputs: [
          { name: 'input_ids', datatype: 'INT64', shape: [2, 4] },
          { name: 'attention_mask', datatype: 'INT64', shape: [2, 4] },
        ],
        rawInputContents: [int64Bytes(IDS), int64Bytes(MASK)],
      });
      for (const call of detector.calls.slice(before)) assert.deepEqual(Array.from(call.inputs), PACKED);
      assert.equal(detector.calls.length, before + 2);
    } finally {
      client.close();
    }
  });

  it('packs the same rows from /predict objects, v2 INT64 tensors (JSON and binary) and TF Serving rows and columns', async () => {
    const bodies: [string, () => ReturnType<typeof post>][] = [
      ['/predict', () => post('/predict', { instances: IDS.map((ids, r) => ({ input_ids: ids, attention_mask: MASK[r] })) })],
      [
        'v2 JSON, tensors in another order',
        () =>
          post('/v2/models/tokens/infer', {
            inputs: [
              { name: 'attention_mask', shape: [2, 4], datatype: 'INT64', data: MASK.flat() },
              { name: 'input_ids', shape: [2, 4], datatype: 'INT64', data: IDS },
            ],
          }),
      ],
      [
        'v2 binary',
        () => {
          const header = {
            inputs: [
              { name: 'input_ids', shape: [2, 4], datatype: 'INT64', parameters: { binary_data_size: 64 } },
              { name: 'attention_mask', shape: [2, 4], datatype: 'INT32', data: MASK },
            ],
          };
          const json = Buffer.from(JSON.stringify(header));
          return post('/v2/models/tokens/infer', Buffer.concat([json, int64Bytes(IDS)]), {
            'content-type': 'application/octet-stream',
            'inference-header-content-length': String(json.length),
          });
        },
      ],
      ['TF Serving rows', () => post('/v1/models/tokens:predict', { instances: IDS.map((ids, r) => ({ input_ids: ids, attention_mask: MASK[r] })) })],
      ['TF Serving columns', () => post('/v1/models/tokens:predict', { inputs: { input_ids: IDS, attention_mask: MASK } })],
    ];
    for (const [what, send] of bodies) {
      const res = await send();
      assert.equal(res.statusCode, 200, `${what}: ${res.body}`);
      const call = detector.calls.at(-1);
      assert.equal(call?.rows, 2, what);
      assert.deepEqual(Array.from(call?.inputs ?? []), PACKED, what);
    }
  });

  it('lists every input with its type in the v2 and TF Serving metadata and in the model info', async () => {
    const v2 = (await app.inject({ method: 'GET', url: '/v2/models/tokens' })).json() as { inputs: unknown[] };
    assert.deepEqual(v2.inputs, [
      { name: 'input_ids', datatype: 'INT64', shape: [-1, 4] },
      { name: 'attention_mask', datatype: 'INT64', shape: [-1, 4] },
    ]);
    const tf = (await app.inject({ method: 'GET', url: '/v1/models/tokens/metadata' })).json() as {
      metadata: { signature_def: { signature_def: { serving_default: { inputs: Record<string, { dtype: string; tensor_shape: { dim: { size: string }[] } }> } } } };
    };
    const inputs = tf.metadata.signature_def.signature_def.serving_default.inputs;
    assert.deepEqual(Object.keys(inputs), ['input_ids', 'attention_mask']);
    assert.equal(inputs.input_ids.dtype, 'DT_INT64');
    assert.deepEqual(inputs.attention_mask.tensor_shape.dim.map((d) => d.size), ['-1', '4']);
    const info = (await app.inject({ method: 'GET', url: '/models/tokens' })).json() as { inputs: ModelInput[] };
    assert.deepEqual(info.inputs, INPUTS);
    const openapi = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { info: { description: string }; 'x-served-models': unknown };
    assert.deepEqual(openapi['x-served-models'], [{ name: 'tokens', ready: true, inputs: INPUTS }]);
    assert.match(openapi.info.description, /Model tokens takes input_ids \(int64 \[4\]\), attention_mask \(int64 \[4\]\)\./);
  });

  it('refuses a missing, extra, repeated or mis-sized tensor, and values the input type cannot hold, naming each', async () => {
    const tensor = (name: string, data: unknown, shape = [2, 4], datatype = 'INT64') => ({ name, shape, datatype, data });
    const cases: [unknown, RegExp][] = [
      [{ inputs: [tensor('input_ids', IDS)] }, /inputs lacks the tensor "attention_mask"/],
      [{ inputs: [tensor('input_ids', IDS), tensor('attention_mask', MASK), tensor('token_type_ids', MASK)] }, /names "token_type_ids", which model tokens does not take/],
      [{ inputs: [tensor('input_ids', IDS), tensor('input_ids', IDS)] }, /names "input_ids" twice/],
      [{ inputs: [tensor('input_ids', IDS), tensor('attention_mask', [MASK[0]], [1, 4])] }, /inputs\[1\] holds 1 instances, inputs\[0\] 2/],
      [{ inputs: [tensor('input_ids', IDS, [2, 3]), tensor('attention_mask', MASK)] }, /inputs\[0\]\.shape \[2, 3\] does not hold instances of model tokens's input input_ids: send \[N, 4\]/],
      [{ inputs: [tensor('input_ids', [[1, 2, 3, 4.5], IDS[1]], [2, 4], 'FP32'), tensor('attention_mask', MASK)] }, /inputs\[0\]\.data\[0\]\[3\] must be a whole number/],
      [{ inputs: [tensor('input_ids', [[1, 2, 3, 2 ** 40], IDS[1]]), tensor('attention_mask', MASK)] }, /must be a whole number within ±16777216/],
    ];
    for (const [body, message] of cases) assertPlainError(await post('/v2/models/tokens/infer', body), 400, message);
    assertPlainError(await post('/v1/models/tokens:predict', { instances: [{ input_ids: IDS[0] }] }), 400, /instances\[0\] lacks input "attention_mask"/);
    const res = await post('/predict', { instances: [[...IDS[0], ...MASK[0]]] });
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /instances\[0\] must be an object keyed by input name \(input_ids, attention_mask\)/);
  });
});
