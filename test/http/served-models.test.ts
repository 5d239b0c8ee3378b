import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { ServedModels } from '../../src/lifecycle/served-models.js';
import { startServer } from '../../src/http/server.js';
import { deferred, waitFor } from '../support/async.js';
import { FakeDetector } from './fake-detector.js';

const TOKEN = 'models-test-token';
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

describe('several models in one process (OOD_MODELS)', () => {
  it('serves each model on its own routes, metrics and reloads, the first also on /predict', async () => {
    const config = loadConfig({ PORT: '0', OOD_GRPC_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OOD_API_TOKENS: TOKEN, OOD_MODELS: 'alpha,beta' });
    assert.deepEqual(config.models, ['alpha', 'beta']);
    assert.equal(config.model, 'alpha');
    const loads: string[] = [];
    const betaGate = deferred<void>();
    const { app, close } = await startServer({
      config,
      loadDetector: async (model) => {
        loads.push(model);
        // beta's first load waits, so the server is seen with one model ready and one not.
        if (model === 'beta' && loads.filter((m) => m === 'beta').length === 1) await betaGate.promise;
        const version = `v${loads.filter((m) => m === model).length}`;
        return new FakeDetector({ info: { name: model, version, labels: model === 'alpha' ? ['a0', 'a1'] : ['b0', 'b1'] } });
      },
    });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const get = async (path: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${base}${path}`, { headers });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${base}${path}`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const v2 = { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 0, 0, 0] }], outputs: [{ name: 'label' }] };
    try {
      await waitFor(async () => (await get('/models/alpha')).status === 200);
      assert.equal((await get('/readyz')).status, 503, 'not ready until every model is');
      assert.deepEqual((await get('/v2/health/ready')).body, { ready: false });
      assert.deepEqual((await get('/v2/models/beta/ready')).body, { name: 'beta', ready: false });
      assert.equal((await post('/v2/models/alpha/infer', v2)).status, 200, 'a ready model serves while another loads');
      betaGate.resolve();
      await waitFor(async () => (await get('/readyz')).status === 200);

      assert.deepEqual((await get('/models')).body, { default: 'alpha', models: ['alpha', 'beta'] });
      const label = (r: { body: Record<string, unknown> }) => (r.body.outputs as { data: string[] }[])[0].data[0];
      assert.equal(label(await post('/v2/models/alpha/infer', v2)), 'a0');
      assert.equal(label(await post('/v2/models/beta/infer', v2)), 'b0');
      const tf = await post('/v1/models/beta:predict', { instances: [[1, 0, 0, 0]] });
      assert.equal((tf.body.predictions as { label: string }[])[0].label, 'b0');
      const own = await post('/predict', { instances: [[1, 0, 0, 0]] });
      assert.deepEqual(own.body.model, { name: 'alpha', version: 'v1' }, '/predict is the default model');
      assert.equal((await post('/v2/models/gamma/infer', v2)).status, 404);

      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(metrics, /^ood_model_ready\{model="alpha"\} 1$/m);
      assert.match(metrics, /^ood_model_ready\{model="beta"\} 1$/m);
      assert.match(metrics, /^ood_predictions_total\{model="alpha",outcome="inlier"\} 3$/m);
      assert.match(metrics, /^ood_predictions_total\{model="beta",outcome="inlier"\} 2$/m);

      // A reload of one model leaves the other as it was.
      const reload = await post('/admin/reload', { model: 'beta' });
      assert.equal(reload.status, 202);
      await waitFor(async () => (await get('/admin/reload?model=beta', auth)).body.state === 'succeeded');
      assert.equal((await get('/models/beta')).body.version, 'v2');
      assert.equal((await get('/models/alpha')).body.version, 'v1');
      assert.equal((await get('/admin/reload', auth)).body.state, 'succeeded', 'the default model shows its start-up load');
      assert.equal((await post('/admin/reload', { model: 'gamma' })).status, 404, 'with several models, no switch to another');
      assert.match(await (await fetch(`${base}/metrics`)).text(), /^ood_model_reloads_total\{model="beta",outcome="success"\} 1$/m);

      // SIGHUP reloads every model.
      process.emit('SIGHUP');
      await waitFor(async () => (await get('/models/alpha')).body.version === 'v2' && (await get('/models/beta')).body.version === 'v3');
      assert.deepEqual(loads.sort(), ['alpha', 'alpha', 'beta', 'beta', 'beta']);
    } finally {
      betaGate.resolve();
      await close();
    }
  });

  it('closes cleanly, exit code untouched, when a model finishes loading during the drain', async () => {
    const config = { ...loadConfig({ PORT: '0', OOD_GRPC_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OOD_MODELS: 'alpha,beta' }), drainDelayMs: 400 };
    const exits: number[] = [];
    const { app, close } = await startServer({
      config,
      exit: (code) => exits.push(code),
      loadDetector: async (model) => {
        if (model === 'beta') await new Promise((resolve) => setTimeout(resolve, 150));
        return new FakeDetector({ info: { name: model } });
      },
    });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    await waitFor(async () => (await fetch(`${base}/models/alpha`)).status === 200);
    await close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(exits, []);
  });

  it('starts no load before its handlers are attached', () => {
    const models = new ServedModels(['alpha']);
    assert.throws(() => models.start('alpha', 'startup'), /attach\(\) its handlers before the first load/);
    assert.equal(models.status('alpha')?.state, 'idle');
  });

  it('refuses a malformed or repeated name in OOD_MODELS', () => {
    assert.throws(() => loadConfig({ OOD_MODELS: 'mnist,../etc' }), /OOD_MODELS="mnist,..\/etc": each name must match/);
    assert.throws(() => loadConfig({ OOD_MODELS: 'mnist,mnist' }), /OOD_MODELS="mnist,mnist": names a model twice/);
  });
});
