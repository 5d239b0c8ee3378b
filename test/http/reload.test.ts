import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import type { Detector } from '../../src/detector/types.js';
import { ServedModels } from '../../src/lifecycle/served-models.js';
import { startServer } from '../../src/http/server.js';
import { PredictResponseSchema } from '../../src/http/schemas.js';
import { FakeDetector, FakeHost } from './fake-detector.js';
import { assertError, buildTestApp } from './helpers.js';
import { waitFor } from '../support/async.js';

const TOKEN = 'reload-test-token';
const config = loadConfig({ PORT: '0', OOD_GRPC_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OOD_API_TOKENS: TOKEN });
const auth = { authorization: `Bearer ${TOKEN}` };

/** Each version answers with labels of its own, so an answer that mixed two would show it. */
const LABELS: Record<string, string[]> = { v1: ['a', 'b'], v2: ['A', 'B'] };

describe('reload under load', () => {
  it('swaps versions with no failed request and no answer mixing two versions', async () => {
    const built: FakeDetector[] = [];
    const { app, close } = await startServer({
      config,
      loadDetector: async () => {
        const version = `v${built.length + 1}`;
        // The swap must also wait for a slow build, and predictions overlap it.
        await new Promise((resolve) => setTimeout(resolve, built.length === 0 ? 0 : 150));
        const detector = new FakeDetector({ info: { version, labels: LABELS[version] }, delayMs: 15 });
        built.push(detector);
        return detector;
      },
    });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200);

      const reloadDuringLoad = async () => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const accepted = await fetch(`${base}/admin/reload`, { method: 'POST', headers: auth });
        assert.equal(accepted.status, 202);
        assert.equal(((await accepted.json()) as { reload: { state: string } }).reload.state, 'loading');
        await waitFor(async () => {
          const status = (await (await fetch(`${base}/admin/reload`, { headers: auth })).json()) as { state: string };
          return status.state === 'succeeded';
        });
        await new Promise((resolve) => setTimeout(resolve, 100));
      };

      const answers: { status: number; body: unknown }[] = [];
      let stop = false;
      const worker = async () => {
        while (!stop) {
          try {
            const res = await fetch(`${base}/predict`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', ...auth },
              body: JSON.stringify({ instances: [[1, 0, 0, 0], [0, 1, 0, 0]] }),
            });
            answers.push({ status: res.status, body: await res.json() });
          } catch (err) {
            // Recorded, not thrown: a failed request is what this test looks for.
            answers.push({ status: 0, body: String((err as Error).cause ?? err) });
          }
        }
      };
      const workers = Array.from({ length: 6 }, worker);
      try {
        await reloadDuringLoad();
      } finally {
        stop = true;
        await Promise.all(workers);
      }
      assert.deepEqual(
        answers.filter((a) => a.status !== 200),
        [],
      );
      const seen = new Set<string>();
      for (const { body } of answers) {
        const parsed = PredictResponseSchema.parse(body);
        seen.add(parsed.model.version);
        for (const p of parsed.predictions) assert.ok(LABELS[parsed.model.version].includes(p.label), `${parsed.model.version} answered ${p.label}`);
      }
      assert.deepEqual([...seen].sort(), ['v1', 'v2'], 'requests ran before and after the swap');
      assert.equal(built[0].disposed, true, 'v1 is freed once its last request is done');
      assert.equal(built[1].disposed, false);

      const info = (await (await fetch(`${base}/models/default`)).json()) as { version: string };
      assert.equal(info.version, 'v2');
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(metrics, /^ood_model_reloads_total\{model="fake",outcome="success"\} 1$/m);
      assert.match(metrics, /^ood_model_runtime_info\{runtime="tfjs",backend="cpu",model="fake",version="v2"\} 1$/m);
    } finally {
      await close();
    }
    assert.equal(app.server.listening, false);
  });

  it('keeps the old version serving when a reload fails, and counts the failure', async () => {
    let loads = 0;
    const { app, close } = await startServer({
      config,
      loadDetector: async (model) => {
        if (loads++ > 0) throw new Error(`models/${model}/manifest.json: version: Required`);
        return new FakeDetector({ info: { version: 'v1' } });
      },
    });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200);
      const res = await fetch(`${base}/admin/reload`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'fashion-mnist' }),
      });
      assert.equal(res.status, 202);
      let status: { state: string; error?: string; model?: string } = { state: 'loading' };
      await waitFor(async () => {
        status = (await (await fetch(`${base}/admin/reload`, { headers: auth })).json()) as typeof status;
        return status.state !== 'loading';
      });
      assert.equal(status.state, 'failed');
      assert.equal(status.model, 'fashion-mnist');
      assert.match(status.error ?? '', /models\/fashion-mnist\/manifest\.json/);
      assert.equal((await fetch(`${base}/readyz`)).status, 200, 'still ready on the old version');
      const info = (await (await fetch(`${base}/models/default`)).json()) as { version: string };
      assert.equal(info.version, 'v1');
      assert.match(await (await fetch(`${base}/metrics`)).text(), /^ood_model_reloads_total\{model="fake",outcome="failure"\} 1$/m);
    } finally {
      await close();
    }
  });
});

describe('reload and shutdown together', () => {
  it('reloads the model serving now on SIGHUP, also after a switch over HTTP', async () => {
    const loads: string[] = [];
    const { app, close } = await startServer({
      config,
      loadDetector: async (model) => {
        loads.push(model);
        return new FakeDetector({ info: { name: model, version: `v${loads.length}` } });
      },
    });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const settled = async () =>
      waitFor(async () => ((await (await fetch(`${base}/admin/reload`, { headers: auth })).json()) as { state: string }).state !== 'loading');
    try {
      await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200);
      const switched = await fetch(`${base}/admin/reload`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'fashion-mnist' }),
      });
      assert.equal(switched.status, 202);
      await settled();
      process.emit('SIGHUP');
      await settled();
      assert.deepEqual(loads, ['mnist', 'fashion-mnist', 'fashion-mnist']);
    } finally {
      await close();
    }
  });

  it('starts no reload once shutdown has begun', async () => {
    let loads = 0;
    const { app, close } = await startServer({
      config: { ...config, drainDelayMs: 400 },
      loadDetector: async () => {
        loads++;
        return new FakeDetector();
      },
    });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200);
    const closed = close();
    const res = await fetch(`${base}/admin/reload`, { method: 'POST', headers: auth });
    assert.equal(res.status, 503);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /shutting down/);
    process.emit('SIGHUP');
    await closed;
    assert.equal(loads, 1);
  });
});

describe('admin endpoints', () => {
  const reloaderFor = (load: () => Promise<Detector>) => new ServedModels(['mnist']).attach({ load, onOutcome: () => {}, onDisposeError: () => {} });
  const admin = (reloads: ServedModels) => ({ reloads });

  it('are closed (403) when no tokens are configured, and say how to open them', async () => {
    const app = await buildTestApp(new FakeHost(new FakeDetector()), { admin: admin(reloaderFor(async () => new FakeDetector())) });
    try {
      const post = await app.inject({ method: 'POST', url: '/admin/reload' });
      assert.match(assertError(post, 403, 'ADMIN_DISABLED').error.message, /OOD_API_TOKENS.*SIGHUP/);
      assertError(await app.inject({ method: 'GET', url: '/admin/reload' }), 403, 'ADMIN_DISABLED');
    } finally {
      await app.close();
    }
  });

  it('answer 401 without a valid token, before looking at the body', async () => {
    const app = await buildTestApp(new FakeHost(new FakeDetector()), {
      apiTokens: [TOKEN],
      admin: admin(reloaderFor(async () => new FakeDetector())),
    });
    try {
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Basic ${TOKEN}` }]) {
        assertError(await app.inject({ method: 'POST', url: '/admin/reload', headers, payload: { model: '../etc' } }), 401, 'UNAUTHORIZED');
        assertError(await app.inject({ method: 'GET', url: '/admin/reload', headers }), 401, 'UNAUTHORIZED');
      }
    } finally {
      await app.close();
    }
  });

  it('validate the model name, and refuse a second reload while one runs (409)', async () => {
    let finish!: (d: Detector) => void;
    const reloader = reloaderFor(() => new Promise<Detector>((resolve) => (finish = resolve)));
    const app = await buildTestApp(new FakeHost(new FakeDetector()), { apiTokens: [TOKEN], admin: admin(reloader) });
    try {
      const bad = await app.inject({ method: 'POST', url: '/admin/reload', headers: auth, payload: { model: '../../etc' } });
      assertError(bad, 400, 'BAD_REQUEST');
      const extra = await app.inject({ method: 'POST', url: '/admin/reload', headers: auth, payload: { model: 'mnist', force: true } });
      assertError(extra, 400, 'BAD_REQUEST');

      const first = await app.inject({ method: 'POST', url: '/admin/reload', headers: auth });
      assert.equal(first.statusCode, 202, first.body);
      assert.equal(first.json().reload.model, 'mnist');
      const second = await app.inject({ method: 'POST', url: '/admin/reload', headers: auth, payload: { model: 'fashion-mnist' } });
      assert.match(assertError(second, 409, 'RELOAD_IN_PROGRESS').error.message, /"mnist" is already running/);
      finish(new FakeDetector());
      await reloader.all()[0].reloader.settled();
      assert.equal((await app.inject({ method: 'GET', url: '/admin/reload', headers: auth })).json().state, 'succeeded');
    } finally {
      await app.close();
    }
  });
});

describe('/metrics on its own port', () => {
  it('serves /metrics there and not on the API port', async () => {
    const { app, metricsApp, close } = await startServer({
      config: { ...config, apiTokens: [], metricsPort: 0 },
      loadDetector: async () => new FakeDetector(),
    });
    try {
      assert.ok(metricsApp);
      const apiBase = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const metricsBase = `http://127.0.0.1:${(metricsApp.server.address() as AddressInfo).port}`;
      await waitFor(async () => (await fetch(`${apiBase}/readyz`)).status === 200);
      assert.equal((await fetch(`${apiBase}/metrics`)).status, 404);
      const res = await fetch(`${metricsBase}/metrics`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /^ood_model_ready\{model="fake"\} 1$/m);
      assert.equal((await fetch(`${metricsBase}/predict`, { method: 'POST' })).status, 404);
    } finally {
      await close();
    }
    assert.equal(metricsApp.server.listening, false);
  });
});
