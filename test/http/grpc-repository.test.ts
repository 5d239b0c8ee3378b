import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AddressInfo } from 'node:net';
import { bundleCommand } from '../../src/cli/bundle.js';
import { serviceDetectorLoader } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/http/server.js';
import { loadReferenceSet } from '../../src/reference/load-reference-set.js';
import { uniformNoise } from '../../src/reference/synthetic.js';
import { freePort } from '../../scripts/bench/server.js';
import { bearer, fp32Bytes, grpcStatus, oipClient, type OipClient } from './grpc-client.js';

const TOKEN = 'repository-token';
// As Seldon Core v2's agent names a Model's copy: <model>_<version>, its files under 1/.
const NAME = 'mnist-ood_1';

/** This machine's first address that is not loopback, to call from somewhere that is not this host's loopback. */
const outsideAddress = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

describe('a model repository over gRPC (OOD_MODEL_REPOSITORY, RepositoryModelLoad and Unload)', () => {
  let dir: string;
  let server: RunningServer;
  let grpcPort: number;
  let client: OipClient;
  let rows: number[][];
  const exits: number[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ood-repository-'));
    const stdout = process.stdout.write.bind(process.stdout);
    process.stdout.write = () => true;
    try {
      assert.equal(await bundleCommand(['mnist', '--out', join(dir, 'repo', NAME, '1')]), 0);
    } finally {
      process.stdout.write = stdout;
    }
    grpcPort = await freePort();
    const config = loadConfig({
      PORT: '0',
      OOD_GRPC_PORT: String(grpcPort),
      HOST: '0.0.0.0',
      LOG_LEVEL: 'silent',
      OOD_API_TOKENS: TOKEN,
      OOD_MODEL_REPOSITORY: join(dir, 'repo'),
      // As in a Seldon Server's pod, where the agent calls on localhost with no token.
      OOD_REPOSITORY_TRUST_LOOPBACK: 'true',
      OOD_CACHE_DIR: join(dir, 'cache'),
      OOD_SCORING_THREADS: '0',
      OOD_BACKEND: 'wasm',
    });
    server = await startServer({ config, loadDetector: serviceDetectorLoader(config), exit: (code) => exits.push(code) });
    client = oipClient(grpcPort);
    const refset = await loadReferenceSet('reference-sets', 'mnist');
    rows = [Array.from(refset.test.x.data.subarray(0, 784)), Array.from(uniformNoise(1, 3).data)];
  });

  after(async () => {
    client?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const infer = (raw: boolean) =>
    client.call(
      'ModelInfer',
      {
        modelName: NAME,
        inputs: [{ name: 'pixels', datatype: 'FP32', shape: [2, 784], ...(raw ? {} : { contents: { fp32Contents: rows.flat() } }) }],
        ...(raw ? { rawInputContents: [fp32Bytes(rows.flat())] } : {}),
        outputs: [{ name: 'outlier_score' }, { name: 'is_outlier' }],
      },
      bearer(TOKEN),
    );

  it('starts with no model, ready, and answers NOT_FOUND for a model it has not loaded', async () => {
    assert.deepEqual((await client.call('RepositoryIndex', {})).models, []);
    assert.equal((await client.call('ServerReady')).ready, true, 'ready for loads');
    assert.deepEqual((await client.call('ServerMetadata')).extensions, ['model_repository']);
    await assert.rejects(infer(false), grpcStatus('NOT_FOUND', /No model "mnist-ood_1" is served here/));
    await assert.rejects(client.call('RepositoryModelLoad', { modelName: 'absent_1' }), grpcStatus('NOT_FOUND', /absent_1 is not a folder/));
  });

  it('loads the bundle under the name it was asked for, answering once it serves, and scores with it', async () => {
    await client.call('RepositoryModelLoad', { modelName: NAME });
    // No wait: the load has answered, so the model serves.
    assert.equal((await client.call('ModelReady', { name: NAME })).ready, true);
    const manifest = JSON.parse(await readFile('models/mnist/manifest.json', 'utf8')) as { version: string };
    assert.deepEqual((await client.call('RepositoryIndex', {})).models, [{ name: NAME, version: manifest.version, state: 'READY', reason: '' }]);

    const typed = (await infer(false)).outputs as { name: string; contents: Record<string, unknown[]> }[];
    const scores = typed.find((o) => o.name === 'outlier_score')?.contents.fp64Contents as number[];
    const flagged = typed.find((o) => o.name === 'is_outlier')?.contents.boolContents as boolean[];
    assert.deepEqual(flagged, [false, true], 'a held-out digit passes, noise is flagged');
    const raw = (await infer(true)).rawOutputContents as Buffer[];
    assert.deepEqual([raw[0].readDoubleLE(0), raw[0].readDoubleLE(8)], scores, 'raw contents give the same scores');

    // REST serves the same model by the same name, with the same scores.
    const base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
    const res = await fetch(`${base}/v2/models/${NAME}/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'pixels', datatype: 'FP32', shape: [2, 784], data: rows.flat() }], outputs: [{ name: 'outlier_score' }] }),
    });
    assert.equal(res.status, 200);
    const rest = (await res.json()) as { model_name: string; outputs: { data: number[] }[] };
    assert.equal(rest.model_name, NAME);
    assert.deepEqual(rest.outputs[0].data, scores);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, new RegExp(`^ood_inference_requests_total\\{model="${NAME}",protocol="grpc"\\} 2$`, 'm'));
    assert.match(metrics, new RegExp(`^ood_model_ready\\{model="${NAME}"\\} 1$`, 'm'));
  });

  it('answers a second load of a served model at once, building nothing, as Seldon\'s agent asks after an UNAVAILABLE answer', async () => {
    const before = server.models.status(NAME);
    assert.equal(before?.state, 'succeeded');
    await client.call('RepositoryModelLoad', { modelName: NAME });
    assert.deepEqual(server.models.status(NAME), before, 'no load ran');
    assert.equal((await client.call('ModelReady', { name: NAME })).ready, true);
  });

  it('refuses parameters, which it would otherwise ignore', async () => {
    await assert.rejects(
      client.call('RepositoryModelLoad', { modelName: NAME, parameters: { config: { stringParam: '{}' } } }),
      grpcStatus('INVALID_ARGUMENT', /parameters are not taken here \(got config\)/),
    );
  });

  it('takes loads and unloads from another host only with a token', { skip: outsideAddress ? false : 'this machine has no address but loopback' }, async () => {
    const outside = oipClient(grpcPort, outsideAddress);
    try {
      await assert.rejects(outside.call('RepositoryModelUnload', { modelName: NAME }), grpcStatus('UNAUTHENTICATED'));
      await outside.call('RepositoryModelLoad', { modelName: NAME }, bearer(TOKEN));
    } finally {
      outside.close();
    }
  });

  it('unloads: the model is a 404 from then on, its series leave /metrics, and a second unload is NOT_FOUND', async () => {
    await client.call('RepositoryModelUnload', { modelName: NAME });
    await assert.rejects(infer(false), grpcStatus('NOT_FOUND'));
    assert.deepEqual((await client.call('RepositoryIndex', {})).models, []);
    await assert.rejects(client.call('RepositoryModelUnload', { modelName: NAME }), grpcStatus('NOT_FOUND', /No model "mnist-ood_1" is served here/));
    const base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.doesNotMatch(metrics, new RegExp(`model="${NAME}"`));
  });

  it('answers a broken bundle with INTERNAL and why, and goes on serving', async () => {
    await writeFile(join(dir, 'repo', NAME, '1', 'models', 'mnist', 'weights.bin'), 'not the weights');
    await assert.rejects(client.call('RepositoryModelLoad', { modelName: NAME }), grpcStatus('INTERNAL', /mnist-ood_1 failed to load: .*weights\.bin/));
    assert.deepEqual((await client.call('RepositoryIndex', {})).models, []);
    assert.equal((await client.call('ServerLive')).live, true);
    assert.deepEqual(exits, [], 'a failed repository load never ends the process');
  });

  it('takes the same loads and unloads over REST (/v2/repository), with the same answers', async () => {
    const base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
    // Who may call is tested in repository-routes.test.ts; here, from this host, trusted.
    const post = (path: string, body?: unknown) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    // The bundle's weights were broken by the test before: a load says why, with a 500.
    const broken = await post(`/v2/repository/models/${NAME}/load`);
    assert.equal(broken.status, 500);
    assert.match(((await broken.json()) as { error: string }).error, /mnist-ood_1 failed to load: .*weights\.bin/);
    await writeFile(join(dir, 'repo', NAME, '1', 'models', 'mnist', 'weights.bin'), await readFile('models/mnist/weights.bin'));

    assert.equal((await post(`/v2/repository/models/${NAME}/load`, {})).status, 200);
    assert.deepEqual(await (await post('/v2/repository/index', { ready: true })).json(), [{ name: NAME, version: (server.models.detector(NAME) as { info: { version: string } }).info.version, state: 'READY', reason: '' }]);
    assert.equal((await post(`/v2/repository/models/${NAME}/load`, { parameters: { config: '{}' } })).status, 400);
    assert.equal((await post(`/v2/repository/models/${NAME}/unload`)).status, 200);
    const again = await post(`/v2/repository/models/${NAME}/unload`);
    assert.equal(again.status, 404);
    assert.match(((await again.json()) as { error: string }).error, /No model "mnist-ood_1" is served here/);
    assert.deepEqual(await (await post('/v2/repository/index')).json(), []);
  });
});
