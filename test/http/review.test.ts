import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { MAX_INPUT_BYTES_PER_MODEL, ReviewStore } from '../../src/http/review/review-store.js';
import { FakeDetector, FakeHost } from './fake-detector.js';
import { assertPlainError, buildTestApp } from './helpers.js';

const REFERENCES = Array.from({ length: 8 }, (_, id) => ({ label: id % 2 === 0 ? 'a' : 'b', values: [id, 0, 0, 0] }));
const outlier = (x: number) => [x, 0, 0, 0];

async function withApp(options: { reviewSize?: number; apiTokens?: string[] }, run: (app: FastifyInstance, detector: FakeDetector) => Promise<void>) {
  const detector = new FakeDetector({ references: REFERENCES });
  const app = await buildTestApp(new FakeHost(detector), options);
  try {
    await run(app, detector);
  } finally {
    await app.close();
  }
}

describe('the review of flagged inputs (OOD_REVIEW_SIZE)', () => {
  it('keeps the last N flagged inputs per model, newest first, with their nearest examples', async () => {
    await withApp({ reviewSize: 2 }, async (app) => {
      // Rows of 10 and more are flagged by the fake; the 0.1 row is not.
      const res = await app.inject({ method: 'POST', url: '/predict', payload: { instances: [outlier(10), [0.1, 0, 0, 0], outlier(11)] } });
      assert.equal(res.statusCode, 200);
      const layers = (res.json() as { predictions: { layers: Record<string, unknown>[] }[] }).predictions[0].layers;
      assert.ok(layers.every((l) => !('neighbor_ids' in l)), 'ids the client did not ask for are not in the answer');
      await app.inject({ method: 'POST', url: '/v2/models/fake/infer', payload: { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: outlier(12) }] } });

      const body = (await app.inject({ method: 'GET', url: '/v1/models/fake/outliers' })).json() as {
        model: string;
        capacity: number;
        kept: number;
        display: { kind: string };
        entries: { id: number; input: number[]; is_outlier?: boolean; label: string; layers: { name: string; nearest: { id: number; label: string }[] }[]; features: { index: number; marked: boolean; neighbor_mean: number }[] }[];
      };
      assert.equal(body.model, 'fake');
      assert.equal(body.capacity, 2);
      assert.equal(body.kept, 2);
      assert.deepEqual(body.display, { kind: 'table' });
      assert.deepEqual(body.entries.map((e) => e.input[0]), [12, 11], 'the oldest (10) was dropped; newest first');
      assert.ok(body.entries[0].id > body.entries[1].id);
      // Row 2 of the first request had neighbours 2, 3, 4; the v2 request's only row 0, 1, 2.
      assert.deepEqual(body.entries[1].layers[0].nearest, [{ id: 2, label: 'a' }, { id: 3, label: 'b' }, { id: 4, label: 'a' }]);
      assert.deepEqual(body.entries[0].layers.map((l) => l.name), ['dense_1', 'dense_2']);
      const features = body.entries[0].features;
      assert.equal(features[0].neighbor_mean, 1, 'the mean of examples 0, 1 and 2 in feature 0');
      assert.deepEqual(features.filter((f) => f.marked).map((f) => f.index), [0], 'only the feature that differs is marked');
    });
  });

  it('pages through the kept entries, newest first', async () => {
    await withApp({ reviewSize: 10 }, async (app) => {
      await app.inject({ method: 'POST', url: '/predict', payload: { instances: [outlier(10), outlier(11), outlier(12)] } });
      const page = async (query: string) =>
        (await app.inject({ method: 'GET', url: `/v1/models/fake/outliers${query}` })).json() as { kept: number; entries: { id: number; input: number[] }[] };
      const first = await page('?limit=2');
      assert.equal(first.kept, 3);
      assert.deepEqual(first.entries.map((e) => e.input[0]), [12, 11]);
      const rest = await page(`?limit=2&before=${first.entries[1].id}`);
      assert.deepEqual(rest.entries.map((e) => e.input[0]), [10]);
      assertPlainError(await app.inject({ method: 'GET', url: '/v1/models/fake/outliers?limit=1000' }), 400, /limit/);
    });
  });

  it('gives one reference example, refusing an unknown id or another version', async () => {
    await withApp({ reviewSize: 5 }, async (app) => {
      const res = await app.inject({ method: 'GET', url: '/v1/models/fake/references/3?version=1.2.3' });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { id: 3, label: 'b', model: 'fake', version: '1.2.3', display: { kind: 'table' }, values: [3, 0, 0, 0] });
      assertPlainError(await app.inject({ method: 'GET', url: '/v1/models/fake/references/99' }), 404, /no reference example 99/);
      assertPlainError(await app.inject({ method: 'GET', url: '/v1/models/fake/references/3?version=0.9' }), 404, /serves version 1\.2\.3, not 0\.9/);
      const page = await app.inject({ method: 'GET', url: '/review' });
      assert.equal(page.statusCode, 200);
      assert.match(String(page.headers['content-type']), /^text\/html/);
      assert.match(page.body, /<script src="\/review\/review\.js"><\/script>/);
      const script = await app.inject({ method: 'GET', url: '/review/review.js' });
      assert.equal(script.statusCode, 200);
      // browser/review.ts, compiled: one IIFE, types gone, nothing left to import.
      assert.match(script.body, /^\(\(\) => \{/);
      assert.doesNotMatch(script.body, /^\s*(import|export)\b/m);
      assert.match(String(script.headers['content-type']), /^text\/javascript/);
    });
  });

  it('is off by default: its routes say how to turn it on, and answers carry no ids they were not asked for', async () => {
    await withApp({}, async (app) => {
      assertPlainError(await app.inject({ method: 'GET', url: '/v1/models/fake/outliers' }), 404, /OOD_REVIEW_SIZE=N/);
      assert.equal((await app.inject({ method: 'GET', url: '/review' })).statusCode, 404);
      const res = await app.inject({ method: 'POST', url: '/predict', payload: { instances: [outlier(10)] } });
      assert.ok(!JSON.stringify(res.json()).includes('neighbor_ids'));
    });
  });

  it('needs a token when tokens are configured, as bearer or as the password of Basic credentials a browser sends', async () => {
    await withApp({ reviewSize: 5, apiTokens: ['review-token'] }, async (app) => {
      for (const url of ['/review', '/review/review.js', '/v1/models/fake/outliers', '/v1/models/fake/references/1']) {
        const res = await app.inject({ method: 'GET', url });
        assert.equal(res.statusCode, 401, url);
        assert.equal(res.headers['www-authenticate'], 'Basic realm="ood-service", charset="UTF-8"', 'a browser asks for credentials');
        const basic = `Basic ${Buffer.from('anyone:review-token').toString('base64')}`;
        assert.equal((await app.inject({ method: 'GET', url, headers: { authorization: basic } })).statusCode, 200, url);
        assert.equal((await app.inject({ method: 'GET', url, headers: { authorization: 'Bearer review-token' } })).statusCode, 200, url);
        const wrong = `Basic ${Buffer.from('anyone:nope').toString('base64')}`;
        assert.equal((await app.inject({ method: 'GET', url, headers: { authorization: wrong } })).statusCode, 401, url);
      }
      // Basic credentials open only the pages, not the inference routes.
      const basic = `Basic ${Buffer.from('anyone:review-token').toString('base64')}`;
      assert.equal((await app.inject({ method: 'POST', url: '/predict', headers: { authorization: basic }, payload: { instances: [outlier(1)] } })).statusCode, 401);
    });
  });

  it('bounds the inputs it keeps per model by bytes as well as by count', async () => {
    const width = 4_000_000;
    const detector = new FakeDetector({ info: { input_shape: [width] } });
    const [flagged] = (await detector.predict(Float32Array.from(outlier(10)), 1)).predictions;
    const store = new ReviewStore(100);
    for (let i = 0; i < 6; i++) store.record(detector, new Float32Array(width).fill(10 + i), [flagged]);
    const { entries, kept } = store.page('fake', 100);
    assert.equal(kept, Math.floor(MAX_INPUT_BYTES_PER_MODEL / (width * 4)));
    assert.deepEqual(entries.map((e) => e.input[0]), [15, 14, 13, 12].slice(0, kept));
  });
});
