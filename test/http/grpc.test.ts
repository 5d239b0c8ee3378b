import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { FakeDetector, FakeHost } from './fake-detector.js';
import { bearer, fp32Bytes, grpcStatus, oipClient, type OipClient } from './grpc-client.js';
import { buildTestApp } from './helpers.js';

const TOKEN = 'grpc-token';
const ROWS = [
  [0.1, 0.2, 0.3, 0.4],
  [10, 1, 0, 0],
];

interface Tensor {
  name: string;
  datatype: string;
  shape: string[];
  contents?: Record<string, unknown[]> | null;
}

/** REST v2's answer for the same rows: what gRPC must agree with. */
async function restOutputs(app: FastifyInstance): Promise<Record<string, { shape: number[]; data: unknown[] }>> {
  const res = await app.inject({
    method: 'POST',
    url: '/v2/models/fake/infer',
    headers: { authorization: `Bearer ${TOKEN}` },
    payload: { inputs: [{ name: 'features', shape: [2, 4], datatype: 'FP32', data: ROWS.flat() }] },
  });
  assert.equal(res.statusCode, 200, res.body);
  return Object.fromEntries((res.json() as { outputs: { name: string; shape: number[]; data: unknown[] }[] }).outputs.map((o) => [o.name, o]));
}

/** One raw output's values, as its datatype lays them out. */
function readRaw(datatype: string, bytes: Buffer): unknown[] {
  const out: unknown[] = [];
  if (datatype === 'BYTES') {
    for (let at = 0; at < bytes.length; ) {
      const length = bytes.readUInt32LE(at);
      out.push(bytes.subarray(at + 4, at + 4 + length).toString('utf8'));
      at += 4 + length;
    }
    return out;
  }
  const width = { FP32: 4, FP64: 8, INT64: 8, BOOL: 1 }[datatype] as number;
  for (let at = 0; at < bytes.length; at += width) {
    if (datatype === 'FP32') out.push(bytes.readFloatLE(at));
    else if (datatype === 'FP64') out.push(bytes.readDoubleLE(at));
    else if (datatype === 'INT64') out.push(Number(bytes.readBigInt64LE(at)));
    else out.push(bytes.readUInt8(at) === 1);
  }
  return out;
}

/** The typed field each output datatype travels in, as the protocol assigns them. */
const FIELD: Record<string, string> = { FP32: 'fp32Contents', FP64: 'fp64Contents', INT64: 'int64Contents', BOOL: 'boolContents', BYTES: 'bytesContents' };

/** Typed contents as REST's JSON would give them: strings for BYTES, numbers for INT64 (sent as strings). */
function typedValues(tensor: Tensor): unknown[] {
  const filled = Object.entries(tensor.contents ?? {}).filter(([, v]) => v.length > 0);
  assert.deepEqual(filled.map(([field]) => field), [FIELD[tensor.datatype]], `${tensor.name} travels in its datatype's field only`);
  const values = filled[0][1];
  if (tensor.datatype === 'BYTES') return (values as Buffer[]).map((b) => b.toString('utf8'));
  if (tensor.datatype === 'INT64') return (values as string[]).map(Number);
  if (tensor.datatype === 'FP32') return (values as number[]).map((v) => Math.fround(v));
  return values;
}

describe('Open Inference Protocol v2 over gRPC', () => {
  const host = new FakeHost(new FakeDetector());
  let app: FastifyInstance;
  let client: OipClient;
  const auth = bearer(TOKEN);

  before(async () => {
    app = await buildTestApp(host, { maxBatch: 3, bodyLimitBytes: 100_000, apiTokens: [TOKEN], grpc: { maxMessageBytes: 100_000 } });
    const port = await (app.grpc as NonNullable<typeof app.grpc>).listen(0, '127.0.0.1');
    client = oipClient(port);
  });
  after(async () => {
    client?.close();
    await app?.close();
  });

  it('answers health, readiness and metadata as REST does', async () => {
    assert.deepEqual(await client.call('ServerLive'), { live: true });
    assert.deepEqual(await client.call('ServerReady'), { ready: true });
    assert.deepEqual(await client.call('ModelReady', { name: 'fake' }), { ready: true });
    assert.equal(await client.health(), 'SERVING');
    assert.equal(await client.health('inference.GRPCInferenceService'), 'SERVING');
    await assert.rejects(client.health('other.Service'), grpcStatus('NOT_FOUND', /other\.Service/));
    // Watch: the status at once; an unknown service hears SERVICE_UNKNOWN, and its stream stays open.
    for (const [service, expected] of [['', 'SERVING'], ['other.Service', 'SERVICE_UNKNOWN']]) {
      const watch = client.watch(service);
      const first = await new Promise<{ status: string }>((resolve, reject) => watch.once('data', resolve).once('error', reject));
      assert.equal(first.status, expected, service);
      watch.cancel();
    }
    const server = await client.call('ServerMetadata');
    assert.equal(server.name, 'ood-service');

    const meta = await client.call('ModelMetadata', { name: 'fake' });
    const rest = (await app.inject({ method: 'GET', url: '/v2/models/fake' })).json() as { inputs: { shape: number[] }[]; outputs: { name: string }[] };
    assert.equal(meta.name, 'fake');
    assert.deepEqual(meta.versions, ['1.2.3']);
    assert.deepEqual((meta.inputs as { shape: string[] }[])[0].shape.map(Number), rest.inputs[0].shape);
    assert.deepEqual((meta.outputs as { name: string }[]).map((o) => o.name), rest.outputs.map((o) => o.name));

    const index = await client.call('RepositoryIndex', {});
    assert.deepEqual(index.models, [{ name: 'fake', version: '1.2.3', state: 'READY', reason: '' }]);
  });

  it('scores typed contents as REST v2 does, echoing the id', async () => {
    const rest = await restOutputs(app);
    const res = await client.call(
      'ModelInfer',
      { modelName: 'fake', id: 'req-7', inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 4], contents: { fp32Contents: ROWS.flat() } }] },
      auth,
    );
    assert.equal(res.id, 'req-7');
    assert.equal(res.modelName, 'fake');
    assert.equal(res.modelVersion, '1.2.3');
    assert.deepEqual(res.rawOutputContents, [], 'typed in, typed out');
    const outputs = res.outputs as Tensor[];
    assert.deepEqual(outputs.map((o) => o.name), Object.keys(rest));
    for (const tensor of outputs) {
      assert.deepEqual(tensor.shape.map(Number), rest[tensor.name].shape, tensor.name);
      assert.deepEqual(typedValues(tensor), rest[tensor.name].data, tensor.name);
    }
  });

  it('scores raw contents and answers in raw_output_contents, with the same values', async () => {
    const rest = await restOutputs(app);
    const res = await client.call(
      'ModelInfer',
      { modelName: 'fake', inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 4] }], outputs: [{ name: 'outlier_score' }, { name: 'label' }, { name: 'is_outlier' }, { name: 'in_class_neighbors' }], rawInputContents: [fp32Bytes(ROWS.flat())] },
      auth,
    );
    const outputs = res.outputs as Tensor[];
    const raw = res.rawOutputContents as Buffer[];
    assert.equal(raw.length, 4);
    outputs.forEach((tensor, i) => {
      assert.equal(tensor.contents, null, `${tensor.name}: raw out, no typed contents`);
      assert.deepEqual(readRaw(tensor.datatype, raw[i]), rest[tensor.name].data, tensor.name);
    });
    assert.deepEqual(readRaw('BOOL', raw[2]), [false, true], 'the row of 10s is flagged');
  });

  it('refuses what it cannot score with the status codes of the protocol, naming the field', async () => {
    const infer = (request: object, metadata = auth) => client.call('ModelInfer', { modelName: 'fake', ...request }, metadata);
    const good = { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], contents: { fp32Contents: [1, 2, 3, 4] } }] };
    await assert.rejects(infer({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 5], contents: { fp32Contents: [1, 2, 3, 4, 5] } }] }), grpcStatus('INVALID_ARGUMENT', /inputs\[0\]\.shape \[1, 5\]/));
    await assert.rejects(infer({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], contents: { fp32Contents: [1, 2, 3] } }] }), grpcStatus('INVALID_ARGUMENT', /inputs\[0\]\.contents\.fp32_contents holds 3 values/));
    await assert.rejects(infer({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], contents: { intContents: [1, 2, 3, 4] } }] }), grpcStatus('INVALID_ARGUMENT', /holds int_contents; datatype FP32 takes fp32_contents/));
    await assert.rejects(infer({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4] }] }), grpcStatus('INVALID_ARGUMENT', /inputs\[0\] has no contents/));
    await assert.rejects(infer({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4] }], rawInputContents: [fp32Bytes([1, 2, 3])] }), grpcStatus('INVALID_ARGUMENT', /12 bytes of binary data/));
    await assert.rejects(infer({ ...good, rawInputContents: [fp32Bytes([1, 2, 3, 4])] }), grpcStatus('INVALID_ARGUMENT', /no input may have typed contents/));
    await assert.rejects(infer({ inputs: [{ name: 'features', datatype: 'FP32', shape: [4, 4], contents: { fp32Contents: new Array(16).fill(0) } }] }), grpcStatus('INVALID_ARGUMENT', /at most 3/));
    await assert.rejects(infer({ ...good, outputs: [{ name: 'nope' }] }), grpcStatus('INVALID_ARGUMENT', /outputs names "nope"/));
    await assert.rejects(infer({ ...good, modelName: 'absent' }), grpcStatus('NOT_FOUND', /No model "absent"/));
    await assert.rejects(infer({ ...good, modelVersion: '9' }), grpcStatus('NOT_FOUND', /serves version 1\.2\.3, not 9/));
    await assert.rejects(infer({ ...good, modelName: '' }), grpcStatus('INVALID_ARGUMENT', /model_name is empty/));
    await assert.rejects(infer(good, bearer('wrong')), grpcStatus('UNAUTHENTICATED', /not valid/));
    await assert.rejects(client.call('ModelInfer', { modelName: 'fake', ...good }), grpcStatus('UNAUTHENTICATED', /authorization: Bearer/));
    await assert.rejects(client.call('RepositoryModelLoad', { modelName: 'fake' }), grpcStatus('UNAUTHENTICATED'), 'a load needs a token before anything else');
    await assert.rejects(client.call('ModelReady', { name: 'absent' }), grpcStatus('NOT_FOUND'));
    // Over the message limit (the body limit on REST), grpc-js refuses it before any handler runs.
    await assert.rejects(infer({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4] }], rawInputContents: [Buffer.alloc(200_000)] }), grpcStatus('RESOURCE_EXHAUSTED'));

    // The error's own code rides along, so a client can tell why without parsing the message.
    const err = await infer({ ...good, modelName: 'absent' }).catch((e: { metadata: { get(k: string): unknown[] } }) => e);
    assert.deepEqual((err as { metadata: { get(k: string): unknown[] } }).metadata.get('ood-error-code'), ['MODEL_NOT_FOUND']);
  });

  it('is unavailable while the model loads, as health and readiness say', async () => {
    const detector = host.current;
    host.current = undefined;
    try {
      assert.deepEqual(await client.call('ServerReady'), { ready: false });
      assert.equal(await client.health(), 'NOT_SERVING');
      const index = await client.call('RepositoryIndex', {});
      assert.equal((index.models as { state: string }[])[0].state, 'LOADING');
      await assert.rejects(
        client.call('ModelInfer', { modelName: 'fake', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], contents: { fp32Contents: [1, 2, 3, 4] } }] }, auth),
        grpcStatus('UNAVAILABLE', /not loaded yet/),
      );
    } finally {
      host.current = detector;
    }
  });

  it('answers repository loads and unloads UNIMPLEMENTED without a model repository, naming the setting', async () => {
    for (const method of ['RepositoryModelLoad', 'RepositoryModelUnload']) {
      await assert.rejects(client.call(method, { modelName: 'fake' }, auth), grpcStatus('UNIMPLEMENTED', new RegExp(`${method} needs a model repository.*OOD_MODEL_REPOSITORY`)));
    }
    for (const call of ['load', 'unload']) {
      const res = await app.inject({ method: 'POST', url: `/v2/repository/models/fake/${call}`, headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(res.statusCode, 501, res.body);
      assert.match((res.json() as { error: string }).error, /needs a model repository.*OOD_MODEL_REPOSITORY/);
    }
    assert.ok(host.detector(), 'the model still serves');
  });

  it('counts its calls in the metrics, by protocol and by method and code', async () => {
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(text, /^ood_inference_requests_total\{model="fake",protocol="grpc"\} 2$/m);
    assert.match(text, /^ood_inference_requests_total\{model="fake",protocol="rest"\} 2$/m);
    assert.match(text, /^ood_grpc_request_duration_seconds_count\{method="ModelInfer",code="OK"\} 2$/m);
    assert.match(text, /^ood_grpc_request_duration_seconds_count\{method="ModelInfer",code="UNAUTHENTICATED"\} 2$/m);
  });
});

describe('gRPC under load shedding', () => {
  it('answers UNAVAILABLE with OVERLOADED while the process is over its bound', async () => {
    const app = await buildTestApp(new FakeHost(new FakeDetector()), {
      loadShedding: { maxEventLoopDelayMs: 0, maxHeapUsedBytes: 1, retryAfterSeconds: 2 },
      grpc: { maxMessageBytes: 100_000 },
    });
    const client = oipClient(await (app.grpc as NonNullable<typeof app.grpc>).listen(0, '127.0.0.1'));
    try {
      const err = await client
        .call('ModelInfer', { modelName: 'fake', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], contents: { fp32Contents: [1, 2, 3, 4] } }] })
        .catch((e: unknown) => e);
      assert.ok(grpcStatus('UNAVAILABLE', /overloaded/)(err));
      assert.deepEqual((err as { metadata: { get(k: string): unknown[] } }).metadata.get('ood-error-code'), ['OVERLOADED']);
      assert.deepEqual(await client.call('ServerLive'), { live: true }, 'only inference is shed');
    } finally {
      client.close();
      await app.close();
    }
  });
});
