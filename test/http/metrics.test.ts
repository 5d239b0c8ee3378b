import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { FakeDetector, FakeHost } from './fake-detector.js';
import { buildTestApp } from './helpers.js';

const PROMTOOL = '/usr/bin/promtool';

describe('GET /metrics', () => {
  const host = new FakeHost();
  let app: FastifyInstance;
  let text: string;
  let contentType: string;

  before(async () => {
    app = await buildTestApp(host);
    host.current = new FakeDetector();
    const predict = await app.inject({
      method: 'POST',
      url: '/predict',
      payload: { instances: [[0.1, 0.2, 0.3, 0.4], [10, 10, 10, 10]] },
    });
    assert.equal(predict.statusCode, 200, predict.body);
    await app.inject({ method: 'GET', url: '/no-such-page/12345' });
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    text = res.body;
    contentType = String(res.headers['content-type']);
  });
  after(() => app.close());

  it('uses the Prometheus text content type', () => {
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  });

  const expected: Array<[string, RegExp]> = [
    ['default process metrics', /^process_cpu_user_seconds_total \d/m],
    ['default Node.js metrics', /^nodejs_heap_size_total_bytes \d/m],
    [
      'request latency by route pattern',
      /^ood_http_request_duration_seconds_count\{method="POST",route="\/predict",status_code="200"\} 1$/m,
    ],
    [
      'unmatched requests under one label',
      /^ood_http_request_duration_seconds_count\{method="GET",route="unmatched",status_code="404"\} 1$/m,
    ],
    ['predictions by outcome (inlier)', /^ood_predictions_total\{model="fake",outcome="inlier"\} 1$/m],
    ['predictions by outcome (outlier)', /^ood_predictions_total\{model="fake",outcome="outlier"\} 1$/m],
    ['outlier scores', /^ood_outlier_score_count\{model="fake"\} 2$/m],
    ['per-layer search latency', /^ood_layer_search_duration_seconds_count\{model="fake",layer="dense_2"\} 1$/m],
    ['reference-set size', /^ood_reference_set_size\{model="fake"\} 100$/m],
    ['calibration-set size', /^ood_calibration_set_size\{model="fake"\} 20$/m],
    ['the runtime and backend each model runs on', /^ood_model_runtime_info\{runtime="tfjs",backend="cpu",model="fake",version="1\.2\.3"\} 1$/m],
    ['readiness', /^ood_model_ready\{model="fake"\} 1$/m],
    ['the significance the outlier share is bounded by', /^ood_significance\{model="fake"\} 0\.05$/m],
    ['live tfjs tensors', /^ood_tfjs_tensors \d+$/m],
    ['reloads by outcome, from zero', /^ood_model_reloads_total\{model="fake",outcome="failure"\} 0$/m],
  ];
  for (const [what, pattern] of expected) {
    it(`exposes ${what}`, () => assert.match(text, pattern));
  }

  it('keeps raw URLs out of the labels', () => {
    // In label values only: a sample's value can contain the digits too (a lag of 0.012345343 s did).
    assert.doesNotMatch(text, /no-such-page|"[^"\n]*12345[^"\n]*"/);
  });

  it('passes promtool check metrics', (t) => {
    if (!existsSync(PROMTOOL)) {
      t.skip(`${PROMTOOL} is not installed (apt-get install -y prometheus, or set PROMTOOL to its path)`);
      return;
    }
    const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);
  });

  it('reports not ready and no model series before the detector loads', async () => {
    const fresh = await buildTestApp(new FakeHost());
    try {
      const body = (await fresh.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(body, /^ood_model_ready\{model="fake"\} 0$/m);
      assert.doesNotMatch(body, /^ood_reference_set_size\{/m);
      assert.match(body, /^ood_predictions_total\{model="fake",outcome="outlier"\} 0$/m);
    } finally {
      await fresh.close();
    }
  });
});
