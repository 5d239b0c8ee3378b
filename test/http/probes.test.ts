import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServedModels } from '../../src/lifecycle/served-models.js';
import { ModelInfoSchema } from '../../src/detector/types.js';
import { FAKE_INFO, FakeDetector, FakeHost } from './fake-detector.js';
import { assertError, buildTestApp } from './helpers.js';

describe('probes and model info', () => {
  it('is live but not ready while loading, then ready once the host has a detector', async () => {
    const host = new FakeHost();
    const app = await buildTestApp(host);
    try {
      assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
      assertError(await app.inject({ method: 'GET', url: '/readyz' }), 503, 'NOT_READY');
      assertError(await app.inject({ method: 'GET', url: '/models/default' }), 503, 'NOT_READY');
      assertError(
        await app.inject({ method: 'POST', url: '/predict', payload: { instances: [[0, 0, 0, 0]] } }),
        503,
        'NOT_READY',
      );

      host.current = new FakeDetector();
      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 200);
      assert.deepEqual(ready.json(), { status: 'ready' });
      assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    } finally {
      await app.close();
    }
  });

  it('says why it is not ready after a failed load', async () => {
    const host = new FakeHost();
    host.failure = 'models/fake/model.json: unexpected end of JSON';
    const app = await buildTestApp(host);
    try {
      const body = assertError(await app.inject({ method: 'GET', url: '/readyz' }), 503, 'NOT_READY');
      assert.match(body.error.message, /failed to load: models\/fake\/model\.json/);
    } finally {
      await app.close();
    }
  });

  it('describes the loaded model at /models/default and /models/NAME, and lists the models at /models', async () => {
    const app = await buildTestApp(new FakeHost(new FakeDetector()));
    try {
      for (const url of ['/models/default', '/models/fake']) {
        const res = await app.inject({ method: 'GET', url });
        assert.equal(res.statusCode, 200, url);
        assert.deepEqual(ModelInfoSchema.parse(res.json()), FAKE_INFO);
      }
      assert.deepEqual((await app.inject({ method: 'GET', url: '/models' })).json(), { default: 'fake', models: ['fake'] });
      const missing = assertError(await app.inject({ method: 'GET', url: '/models/other' }), 404, 'MODEL_NOT_FOUND');
      assert.equal(missing.error.message, 'No model "other" is served here; the served models are fake');
    } finally {
      await app.close();
    }
  });

  it('answers unknown routes and methods with a JSON 404', async () => {
    const app = await buildTestApp(new FakeHost(new FakeDetector()));
    try {
      const body = assertError(await app.inject({ method: 'GET', url: '/nope?token=x' }), 404, 'NOT_FOUND');
      assert.equal(body.error.message, 'No route GET /nope');
      assertError(await app.inject({ method: 'GET', url: '/predict' }), 404, 'NOT_FOUND');
    } finally {
      await app.close();
    }
  });
});

describe('a server that serves no model yet (a model repository)', () => {
  it('is ready for loads, says NOT_FOUND for the default model, and stops being ready while it drains', async () => {
    const app = await buildTestApp(new ServedModels([]), { drainDelayMs: 300 });
    assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    assert.deepEqual((await app.inject({ method: 'GET', url: '/v2/health/ready' })).json(), { ready: true });
    assertError(await app.inject({ method: 'POST', url: '/predict', payload: { instances: [[1, 2, 3, 4]] } }), 404, 'MODEL_NOT_FOUND');
    // inject() is refused once close begins: the drain is seen over a real connection.
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    const closing = app.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    try {
      const readyz = await fetch(`${base}/readyz`);
      assert.equal(readyz.status, 503);
      assert.equal(((await readyz.json()) as { error: { code: string } }).error.code, 'NOT_READY');
      assert.deepEqual(await (await fetch(`${base}/v2/health/ready`)).json(), { ready: false });
    } finally {
      await closing;
    }
  });
});
