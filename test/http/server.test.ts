import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.js';
import type { Detector } from '../../src/detector/types.js';
import { startServer } from '../../src/http/server.js';
import { PredictResponseSchema } from '../../src/http/schemas.js';
import { FakeDetector } from './fake-detector.js';
import { deferred, waitFor } from '../support/async.js';

const config = loadConfig({ PORT: '0', OOD_GRPC_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' });

describe('startServer over a real socket', () => {
  it('listens before the detector loads, then becomes ready and serves predictions', async () => {
    const loading = deferred<Detector>();
    const { app, close } = await startServer({ config, loadDetector: () => loading.promise });
    try {
      const { port } = app.server.address() as AddressInfo;
      const base = `http://127.0.0.1:${port}`;

      assert.equal((await fetch(`${base}/healthz`)).status, 200);
      const notReady = await fetch(`${base}/readyz`);
      assert.equal(notReady.status, 503);
      assert.equal(((await notReady.json()) as { error: { code: string } }).error.code, 'NOT_READY');

      loading.resolve(new FakeDetector());
      await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200);

      const res = await fetch(`${base}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ instances: [[1, 0, 0, 0]] }),
      });
      assert.equal(res.status, 200);
      assert.equal(PredictResponseSchema.parse(await res.json()).predictions[0].label, 'a');
    } finally {
      await close();
    }
    assert.equal(app.server.listening, false);
  });

  it('closes and exits 1 when the detector fails to load', async () => {
    const exited = deferred<number>();
    const { app } = await startServer({
      config,
      loadDetector: async () => {
        throw new Error('models/mnist/model.json: Unexpected end of JSON input');
      },
      exit: (code) => exited.resolve(code),
    });
    assert.equal(await exited.promise, 1);
    assert.equal(app.server.listening, false);
  });

  it('rejects, leaving nothing listening, when the port is taken', async () => {
    const first = await startServer({ config, loadDetector: async () => new FakeDetector() });
    try {
      const { port } = first.app.server.address() as AddressInfo;
      await assert.rejects(
        startServer({ config: { ...config, port }, loadDetector: async () => new FakeDetector() }),
        /EADDRINUSE/,
      );
    } finally {
      await first.close();
    }
  });
});

describe('the server process', () => {
  const fixture = fileURLToPath(new URL('./fixtures/serve-fake.ts', import.meta.url));

  function spawnServer(mode: 'ok' | 'fail', env: Record<string, string> = {}) {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, exited, output: () => output };
  }

  /** A server process that is ready, and its port. */
  async function readyServer(env: Record<string, string> = {}) {
    const server = spawnServer('ok', env);
    try {
      await waitFor(async () => /"port":\d+/.test(server.output()), 20_000);
      const port = Number(/"port":(\d+)/.exec(server.output())?.[1]);
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200);
      return { ...server, port };
    } catch (err) {
      server.child.kill('SIGKILL');
      throw err;
    }
  }

  /** `n` predictions sent at once; resolves to their statuses. */
  const predictions = (port: number, n: number) =>
    Promise.all(
      Array.from({ length: n }, () =>
        fetch(`http://127.0.0.1:${port}/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ instances: [[1, 0, 0, 0]] }),
        }).then((res) => res.status),
      ),
    );

  it('closes gracefully and exits 0 on SIGTERM', async () => {
    const server = await readyServer();
    try {
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0, server.output());
      assert.match(server.output(), /"signal":"SIGTERM".*"msg":"closing: not ready, finishing accepted requests"/);
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('answers every request it accepted before SIGTERM, then exits 0', async () => {
    // Each prediction takes 400 ms, so all of them are still running when the signal lands.
    const server = await readyServer({ FAKE_DELAY_MS: '400' });
    const { port } = server;
    try {
      const inFlight = predictions(port, 12);
      await new Promise((resolve) => setTimeout(resolve, 150));
      server.child.kill('SIGTERM');
      assert.deepEqual(await inFlight, Array(12).fill(200));
      assert.equal(await server.exited, 0, server.output());
      assert.match(server.output(), /"inFlight":12,.*"msg":"closing: not ready, finishing accepted requests"/);
      assert.match(server.output(), /"answered":12,"unfinished":0,"inFlight":0,.*"msg":"closed"/);
      await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'nothing listens after the exit');
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('ignores a SIGHUP that lands while it drains, and still answers every accepted request', async () => {
    const server = await readyServer({ FAKE_DELAY_MS: '600' });
    const { port } = server;
    try {
      const inFlight = predictions(port, 4);
      await new Promise((resolve) => setTimeout(resolve, 150));
      server.child.kill('SIGTERM');
      await waitFor(async () => /closing: not ready/.test(server.output()));
      server.child.kill('SIGHUP');
      assert.deepEqual(await inFlight, Array(4).fill(200));
      // Node's default for an unhandled SIGHUP would end the process with 129.
      assert.equal(await server.exited, 0, server.output());
      assert.match(server.output(), /"msg":"SIGHUP ignored: the server is closing"/);
      assert.match(server.output(), /"answered":4,"unfinished":0,"inFlight":0,.*"msg":"closed"/);
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('reloads on SIGHUP and keeps running', async () => {
    const server = await readyServer();
    const { port } = server;
    try {
      server.child.kill('SIGHUP');
      await waitFor(async () => /"trigger":"sighup".*"msg":"reload done: serving the new model"/.test(server.output()));
      assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
      assert.match(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), /^ood_model_reloads_total\{model="fake",outcome="success"\} 1$/m);
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0, server.output());
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('exits 1 with a clear error when the model fails to load', async () => {
    const server = spawnServer('fail');
    try {
      assert.equal(await server.exited, 1, server.output());
      assert.match(server.output(), /failed to load model \\"mnist\\": models\/mnist\/model\.json is not valid JSON/);
    } finally {
      server.child.kill('SIGKILL');
    }
  });
});
