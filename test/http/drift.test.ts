import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { DriftStatusSchema, type DriftStatus } from '../../src/drift/drift-monitor.js';
import { FakeDetector, FakeHost } from './fake-detector.js';
import { assertError, buildTestApp } from './helpers.js';

// The fake's combined p-value is 1 - (largest |value|) / 10: these rows get 0.96 and 0.001.
const CLEAN = [0.1, 0.2, 0.3, 0.4];
const STRANGE = [9.99, 0, 0, 0];
const TOKEN = 'drift-token';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('drift: GET /v1/models/{name}/drift, POST /admin/drift/reset and the gauges', () => {
  const host = new FakeHost(new FakeDetector());
  let app: FastifyInstance;

  before(async () => {
    app = await buildTestApp(host, { maxBatch: 64, apiTokens: [TOKEN], driftDelta: 0.01 });
  });
  after(() => app.close());

  const drift = async (name = 'fake'): Promise<DriftStatus> => {
    const res = await app.inject({ method: 'GET', url: `/v1/models/${name}/drift` });
    assert.equal(res.statusCode, 200, res.body);
    return DriftStatusSchema.parse(res.json());
  };
  const predict = async (rows: number[][]) => {
    const res = await app.inject({ method: 'POST', url: '/predict', headers: auth, payload: { instances: rows } });
    assert.equal(res.statusCode, 200, res.body);
  };
  const metric = async (name: string) => {
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    const line = text.split('\n').find((l) => l.startsWith(`${name}{model="fake"}`));
    assert.ok(line, `${name} is exposed`);
    return Number(line.split(' ').pop());
  };

  it('starts at log10(1/2), below the threshold log10(1/delta), with nothing seen', async () => {
    const status = await drift();
    assert.equal(status.model, 'fake');
    assert.equal(status.version, '1.2.3');
    assert.equal(status.predictions, 0);
    assert.equal(status.threshold, 2);
    assert.equal(status.delta, 0.01);
    assert.equal(status.alarm, false);
    assert.ok(Math.abs(status.statistic - Math.log10(0.5)) < 1e-12);
    assert.ok(Date.parse(status.since) <= Date.now());
    assert.equal(await metric('ood_drift_log10_threshold'), 2);
    assert.equal(await metric('ood_drift_alarm'), 0);
  });

  it('"default" names the default model, and an unknown model is a 404', async () => {
    assert.equal((await drift('default')).model, 'fake');
    assertError(await app.inject({ method: 'GET', url: '/v1/models/nope/drift' }), 404, 'MODEL_NOT_FOUND');
  });

  it('takes every scored row, from every protocol, and none from a request that failed', async () => {
    await predict([CLEAN, CLEAN]);
    const bad = await app.inject({ method: 'POST', url: '/predict', headers: auth, payload: { instances: [[1, 2]] } });
    assertError(bad, 400, 'INVALID_INSTANCE');
    const v2 = await app.inject({
      method: 'POST',
      url: '/v2/models/fake/infer',
      headers: auth,
      payload: { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: CLEAN }] },
    });
    assert.equal(v2.statusCode, 200, v2.body);
    assert.equal((await drift()).predictions, 3);
    assert.equal(await metric('ood_drift_predictions'), 3);
  });

  it('alarms on a run of strange inputs, and the alarm shows in the gauges', async () => {
    await predict(Array.from({ length: 60 }, () => STRANGE));
    const status = await drift();
    assert.equal(status.alarm, true, JSON.stringify(status));
    assert.ok(status.statistic >= status.threshold);
    assert.ok(status.alarmed_at && status.alarmed_at.predictions > 3 && status.alarmed_at.predictions <= 63);
    assert.equal(await metric('ood_drift_alarm'), 1);
    assert.equal(await metric('ood_drift_log10_statistic'), status.statistic);
  });

  it('POST /admin/drift/reset needs the token, then starts afresh', async () => {
    assertError(await app.inject({ method: 'POST', url: '/admin/drift/reset' }), 401, 'UNAUTHORIZED');
    assertError(await app.inject({ method: 'POST', url: '/admin/drift/reset', headers: auth, payload: { model: 'nope' } }), 404, 'MODEL_NOT_FOUND');
    const res = await app.inject({ method: 'POST', url: '/admin/drift/reset', headers: auth });
    assert.equal(res.statusCode, 200, res.body);
    const { drift: reset } = res.json() as { drift: DriftStatus };
    assert.equal(reset.alarm, false);
    assert.equal(reset.predictions, 0);
    assert.equal((await drift()).alarm, false);
    assert.equal(await metric('ood_drift_alarm'), 0);
  });

  it('a reload, which brings a new calibration, starts a new statistic for the new version', async () => {
    await predict([CLEAN]);
    assert.equal((await drift()).predictions, 1);
    host.current = new FakeDetector({ info: { version: '2' } });
    const status = await drift();
    assert.equal(status.version, '2');
    assert.equal(status.predictions, 0);
  });

  it('answers 503 while the model is not loaded', async () => {
    const saved = host.current;
    host.current = undefined;
    try {
      assertError(await app.inject({ method: 'GET', url: '/v1/models/fake/drift' }), 503, 'NOT_READY');
    } finally {
      host.current = saved;
    }
  });
});

describe('POST /admin/drift/reset without tokens', () => {
  it('is closed (403), like every admin route', async () => {
    const app = await buildTestApp(new FakeHost(new FakeDetector()));
    try {
      assertError(await app.inject({ method: 'POST', url: '/admin/drift/reset' }), 403, 'ADMIN_DISABLED');
    } finally {
      await app.close();
    }
  });
});

describe('a drift test that cannot start', () => {
  it('never fails a prediction or a scrape; its route says why', async () => {
    // No calibration scores: no p-value grid to bet on.
    const app = await buildTestApp(new FakeHost(new FakeDetector({ info: { calibration_size: 0 } })));
    try {
      for (let i = 0; i < 2; i++) {
        const res = await app.inject({ method: 'POST', url: '/predict', payload: { instances: [CLEAN] } });
        assert.equal(res.statusCode, 200, res.body);
      }
      const body = assertError(await app.inject({ method: 'GET', url: '/v1/models/fake/drift' }), 500, 'INTERNAL');
      assert.match(body.error.message, /drift test of model fake could not start: .*positive integer/);
      const metrics = await app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(metrics.statusCode, 200);
      assert.doesNotMatch(metrics.body, /^ood_drift_alarm\{/m);
    } finally {
      await app.close();
    }
  });
});
