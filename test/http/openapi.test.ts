import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ServedModels } from '../../src/lifecycle/served-models.js';
import { FakeDetector, FakeHost } from './fake-detector.js';
import { buildTestApp } from './helpers.js';

/** Every route the service serves, in OpenAPI's path syntax. */
const ROUTES: [string, string][] = [
  ['get', '/healthz'],
  ['get', '/readyz'],
  ['get', '/metrics'],
  ['get', '/models'],
  ['get', '/models/{name}'],
  ['post', '/predict'],
  ['get', '/v2'],
  ['get', '/v2/health/live'],
  ['get', '/v2/health/ready'],
  ['get', '/v2/models/{name}'],
  ['get', '/v2/models/{name}/ready'],
  ['post', '/v2/models/{name}/infer'],
  ['get', '/v2/models/{name}/versions/{version}'],
  ['get', '/v2/models/{name}/versions/{version}/ready'],
  ['post', '/v2/models/{name}/versions/{version}/infer'],
  ['post', '/v2/repository/index'],
  ['post', '/v2/repository/models/{name}/load'],
  ['post', '/v2/repository/models/{name}/unload'],
  ['get', '/v1/models/{name}'],
  ['get', '/v1/models/{name}/metadata'],
  ['post', '/v1/models/{name}:predict'],
  ['get', '/v1/models/{name}/versions/{version}'],
  ['get', '/v1/models/{name}/versions/{version}/metadata'],
  ['post', '/v1/models/{name}/versions/{version}:predict'],
  ['post', '/admin/reload'],
  ['get', '/admin/reload'],
  ['get', '/v1/models/{name}/drift'],
  ['post', '/admin/drift/reset'],
  ['get', '/review'],
  ['get', '/v1/models/{name}/outliers'],
  ['get', '/v1/models/{name}/references/{id}'],
];

interface Operation {
  summary?: string;
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> };
  responses: Record<string, { content?: Record<string, { schema: { properties?: Record<string, unknown> } }> }>;
}

describe('OpenAPI document and docs page', () => {
  let app: FastifyInstance;
  let doc: { openapi: string; info: { title: string }; paths: Record<string, Record<string, Operation>> };

  before(async () => {
    const reloads = new ServedModels(['fake']).attach({ load: async () => new FakeDetector(), onOutcome: () => {}, onDisposeError: () => {} });
    app = await buildTestApp(new FakeHost(new FakeDetector()), { apiTokens: ['t'], admin: { reloads } });
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(res.statusCode, 200);
    doc = res.json();
  });
  after(() => app.close());

  it('is OpenAPI 3 and lists every route, each with a summary, and only routes that exist', () => {
    assert.match(doc.openapi, /^3\./);
    assert.equal(doc.info.title, 'ood-service');
    const listed = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`));
    assert.deepEqual(listed.sort(), ROUTES.map(([m, p]) => `${m} ${p}`).sort());
    for (const [method, path] of ROUTES) assert.ok(doc.paths[path][method].summary, `${method} ${path} has no summary`);
  });

  it('documents the request and response bodies from the same schemas that validate them', () => {
    const infer = doc.paths['/v2/models/{name}/infer'].post;
    const body = infer.requestBody?.content['application/json'].schema;
    assert.deepEqual(Object.keys(body?.properties ?? {}).sort(), ['id', 'inputs', 'outputs', 'parameters']);
    assert.ok(infer.responses['200'].content?.['application/json'].schema.properties?.outputs);
    assert.ok(infer.responses['400'], 'the error answer is documented');
    const predict = doc.paths['/predict'].post;
    assert.ok(predict.requestBody?.content['application/json'].schema.properties?.instances);
    const prediction = predict.responses['200'].content?.['application/json'].schema.properties?.predictions as { items: { properties: Record<string, unknown> } };
    assert.ok(prediction.items.properties.outlier_score && prediction.items.properties.p_values);
  });

  it('serves the docs page and its assets from this server', async () => {
    const page = await app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /swagger-ui/);
    assert.doesNotMatch(page.body, /(src|href)="(https?:)?\/\//, 'no asset from another host');
    for (const asset of ['/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-ui.css', '/docs/json']) {
      assert.equal((await app.inject({ method: 'GET', url: asset })).statusCode, 200, asset);
    }
  });
});
