/**
 * The image serving a model it was not built with: an ONNX model onboarded with add-model on
 * the host, its two folders mounted read-only into the container, as docs/onboarding.md says.
 * Run by scripts/container/test-container.sh after the image is built.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { freePort } from '../../scripts/bench/server.js';
import { createRng } from '../../src/math/random.js';
import { runOod } from '../cli/run-cli.js';
import { onnxMlp } from '../fixtures/onnx-model.js';
import { npyBytes } from '../reference/fixtures.js';
import { waitFor } from '../support/async.js';
import { oipClient } from '../http/grpc-client.js';

const run = promisify(execFile);
const IMAGE = process.env.OOD_TEST_IMAGE ?? 'ood-service:test';
const MODEL = 'onnx-demo';
const docker = async (...args: string[]) => (await run('docker', args, { maxBuffer: 16 * 1024 * 1024 })).stdout.trim();

/** chmod -R a+rX: the container runs as uid 10001, the folders were made by this user. */
async function openToAll(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await openToAll(path);
    else await chmod(path, 0o644);
  }
}

describe('the image with an onboarded ONNX model mounted', () => {
  const name = `ood-onboarded-test-${process.pid}`;
  const repositoryName = `ood-repository-test-${process.pid}`;
  let tmp = '';
  let base = '';
  let png = '';
  let repositoryGrpcPort = 0;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'ood-onboarded-'));
    const rng = createRng(5);
    const rows = 600;
    const x = Float32Array.from({ length: rows * 16 }, (_, i) => Math.min(1, Math.max(0, ((Math.floor(i / 16) % 3) + rng()) / 3)));
    const y = Array.from({ length: rows }, (_, r) => BigInt(r % 3));
    await writeFile(join(tmp, 'model.onnx'), onnxMlp({ imageShape: [1, 4, 4], hidden: 5, classes: 3 }).bytes);
    await writeFile(join(tmp, 'x.npy'), npyBytes('<f4', [rows, 1, 4, 4], x));
    await writeFile(join(tmp, 'y.npy'), npyBytes('<i8', [rows], y));
    png = (await sharp(Buffer.alloc(16, 128), { raw: { width: 4, height: 4, channels: 1 } }).png().toBuffer()).toString('base64');
    for (const dir of ['models', 'reference-sets', 'cache']) await mkdir(join(tmp, dir));
    process.env.OOD_MODELS_DIR = join(tmp, 'models');
    process.env.OOD_REFERENCE_SETS_DIR = join(tmp, 'reference-sets');
    process.env.OOD_CACHE_DIR = join(tmp, 'cache');
    const added = await runOod(['add-model', '--name', MODEL, '--onnx', join(tmp, 'model.onnx'), '--data', join(tmp, 'x.npy'), '--labels', join(tmp, 'y.npy')]);
    assert.equal(added.code, 0, added.stderr);
    // The same model as a bundle in a repository, laid out as Seldon's agent copies a Model.
    const bundled = await runOod(['bundle', MODEL, '--out', join(tmp, 'repository', `${MODEL}_1`, '1')]);
    assert.equal(bundled.code, 0, bundled.stderr);
    await openToAll(tmp);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    await docker(
      'run', '-d', '--name', name, '--network', 'host', '-e', `PORT=${port}`, '-e', `OOD_MODEL=${MODEL}`,
      '-v', `${join(tmp, 'models', MODEL)}:/app/models/${MODEL}:ro`,
      '-v', `${join(tmp, 'reference-sets', MODEL)}:/app/reference-sets/${MODEL}:ro`,
      IMAGE,
    );
    await waitFor(async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200, 120_000);
  });

  after(async () => {
    await docker('rm', '-f', name).catch(() => undefined);
    await docker('rm', '-f', repositoryName).catch(() => undefined);
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('serves it on onnxruntime, numbers and {"b64": PNG} alike', async () => {
    const info = (await (await fetch(`${base}/models/default`)).json()) as { name: string; backend: string; input_shape: number[] };
    assert.equal(info.name, MODEL);
    assert.equal(info.backend, 'onnxruntime-cpu');
    assert.deepEqual(info.input_shape, [1, 4, 4]);
    const res = await fetch(`${base}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [{ b64: png }, Array(16).fill(128 / 255)] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const { predictions } = (await res.json()) as { predictions: { label: string; outlier_score: number }[] };
    assert.equal(predictions.length, 2);
    // The PNG of grey 128 is the numeric row of 128/255: one answer.
    assert.deepEqual(predictions[0], predictions[1]);
  });

  it('loads it from a read-only model repository over gRPC, serves it under the loaded name, and unloads it', async () => {
    repositoryGrpcPort = await freePort();
    const port = await freePort();
    await docker(
      'run', '-d', '--name', repositoryName, '--network', 'host', '-e', `PORT=${port}`, '-e', `OOD_GRPC_PORT=${repositoryGrpcPort}`,
      '-e', 'OOD_MODEL_REPOSITORY=/mnt/agent/models', '-e', 'OOD_REPOSITORY_TRUST_LOOPBACK=true', '-e', 'OOD_GRPC_HOST=127.0.0.1', '-v', `${join(tmp, 'repository')}:/mnt/agent/models:ro`,
      IMAGE,
    );
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 120_000);
    const client = oipClient(repositoryGrpcPort);
    try {
      assert.deepEqual((await client.call('RepositoryIndex', {})).models, []);
      // Over --network host the call comes from the host's loopback, as the agent's in a pod: no token.
      await client.call('RepositoryModelLoad', { modelName: `${MODEL}_1` });
      const answer = await client.call('ModelInfer', {
        modelName: `${MODEL}_1`,
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 1, 4, 4], contents: { fp32Contents: Array(16).fill(128 / 255) } }],
        outputs: [{ name: 'is_outlier' }],
      });
      assert.equal(answer.modelName, `${MODEL}_1`);
      assert.equal((answer.outputs as { contents: { boolContents: boolean[] } }[])[0].contents.boolContents.length, 1);
      await client.call('RepositoryModelUnload', { modelName: `${MODEL}_1` });
      assert.deepEqual((await client.call('RepositoryIndex', {})).models, []);
    } finally {
      client.close();
    }
  });
});
