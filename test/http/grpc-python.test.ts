import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { FakeDetector, FakeHost } from './fake-detector.js';
import { buildTestApp } from './helpers.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const PROTO = fileURLToPath(new URL('../../proto/', import.meta.url));
const CLIENT = fileURLToPath(new URL('./fixtures/oip_grpc_client.py', import.meta.url));
const TOKEN = 'python-token';
const ROWS = [
  [0.1, 0.2, 0.3, 0.4],
  [10, 1, 0, 0],
];

// On CI, which installs them, missing Python gRPC packages fail this test instead of skipping it.
const missing =
  process.env.CI || spawnSync(PYTHON, ['-c', 'import grpc, grpc_tools']).status === 0 ? false : 'python3-grpcio and python3-grpc-tools are not installed (apt-get install -y python3-grpcio python3-grpc-tools)';

describe('a Python gRPC client, from stubs generated out of proto/', { skip: missing }, () => {
  let app: FastifyInstance;
  let stubs: string;
  let port: number;

  before(async () => {
    stubs = await mkdtemp(join(tmpdir(), 'oip-stubs-'));
    // grpc_tools compiles the repository's files as any team would from its copy of the protocol.
    await run(PYTHON, ['-m', 'grpc_tools.protoc', `-I${PROTO}`, `--python_out=${stubs}`, `--grpc_python_out=${stubs}`, 'inference/grpc_predict_v2.proto']);
    // The health protocol's file, compiled from its own folder: as grpc/health/v1/ its Python
    // modules would sit under a `grpc` package and hide the real one.
    await run(PYTHON, ['-m', 'grpc_tools.protoc', `-I${join(PROTO, 'grpc', 'health', 'v1')}`, `--python_out=${stubs}`, `--grpc_python_out=${stubs}`, 'health.proto']);
    app = await buildTestApp(new FakeHost(new FakeDetector()), { apiTokens: [TOKEN], grpc: { maxMessageBytes: 100_000 } });
    port = await (app.grpc as NonNullable<typeof app.grpc>).listen(0, '127.0.0.1');
  });
  after(async () => {
    await app?.close();
    if (stubs) await rm(stubs, { recursive: true, force: true });
  });

  it('gets the outlier scores REST v2 gives, typed and raw, and the status codes for bad calls', async () => {
    const rest = await app.inject({
      method: 'POST',
      url: '/v2/models/fake/infer',
      headers: { authorization: `Bearer ${TOKEN}` },
      payload: { inputs: [{ name: 'features', shape: [2, 4], datatype: 'FP32', data: ROWS.flat() }], outputs: [{ name: 'outlier_score' }, { name: 'label' }] },
    });
    const [scores, labels] = (rest.json() as { outputs: { data: unknown[] }[] }).outputs.map((o) => o.data);
    const { stdout } = await run(PYTHON, [CLIENT, stubs, String(port), TOKEN, JSON.stringify(ROWS)]);
    const answer = JSON.parse(stdout) as { typed: Record<string, unknown>; raw: Record<string, unknown>; health: string; codes: Record<string, string> };
    assert.deepEqual(answer.typed, { id: 'py-1', outlier_score: scores, label: labels });
    assert.deepEqual(answer.raw, { outlier_score: scores, label: labels });
    assert.equal(answer.health, 'SERVING');
    assert.deepEqual(answer.codes, { bad_shape: 'INVALID_ARGUMENT', unknown_model: 'NOT_FOUND', no_token: 'UNAUTHENTICATED' });
  });
});
