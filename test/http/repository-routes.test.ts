import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { OodError } from '../../src/errors.js';
import { ModelRepository } from '../../src/lifecycle/model-repository.js';
import { ServedModels } from '../../src/lifecycle/served-models.js';
import { FakeDetector } from './fake-detector.js';
import { buildTestApp } from './helpers.js';

const TOKEN = 'repository-routes-token';
const OUTSIDE = '10.0.0.5';

/** An app with a repository of two fake bundles, alpha and beta; nothing else is in it. */
async function repositoryApp(options: { tokens?: string[]; trustLoopback?: boolean } = {}): Promise<FastifyInstance> {
  const models = new ServedModels([]).attach({ load: async (name) => new FakeDetector({ info: { name } }), onOutcome: () => {}, onDisposeError: () => {} });
  const repository = new ModelRepository(models, {
    locate: async (name) => {
      if (!['alpha', 'beta'].includes(name)) throw new OodError('MODEL_NOT_FOUND', `no folder for ${name}`);
    },
  });
  return buildTestApp(models, { repository, apiTokens: options.tokens ?? [], repositoryTrustLoopback: options.trustLoopback ?? false });
}

const call = (app: FastifyInstance, path: string, options: { from?: string; headers?: Record<string, string>; payload?: string } = {}) =>
  app.inject({ method: 'POST', url: path, remoteAddress: options.from ?? '127.0.0.1', headers: options.headers ?? {}, ...(options.payload === undefined ? {} : { payload: options.payload }) });
const errorOf = (res: { json(): unknown }) => (res.json() as { error: string }).error;

describe('the repository routes over REST: who may call', () => {
  it('with tokens: a token from anywhere, none from loopback when trusted, and a forwarded header changes nothing', async () => {
    const app = await repositoryApp({ tokens: [TOKEN], trustLoopback: true });
    try {
      const refused = await call(app, '/v2/repository/models/alpha/load', { from: OUTSIDE });
      assert.equal(refused.statusCode, 401);
      assert.equal(refused.headers['www-authenticate'], 'Bearer');
      assert.match(errorOf(refused), /This route needs an Authorization: Bearer <token> header/);
      assert.equal((await call(app, '/v2/repository/models/alpha/load', { from: OUTSIDE, headers: { authorization: 'Bearer wrong' } })).statusCode, 401);
      assert.equal((await call(app, '/v2/repository/models/alpha/load', { from: OUTSIDE, headers: { 'x-forwarded-for': '127.0.0.1' } })).statusCode, 401);
      assert.equal((await call(app, '/v2/repository/models/alpha/load', { from: OUTSIDE, headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 200);
      assert.equal((await call(app, '/v2/repository/models/beta/load', { from: '::ffff:127.0.0.1' })).statusCode, 200);
      assert.equal((await call(app, '/v2/repository/models/beta/unload', { from: '127.0.0.6' })).statusCode, 401, "Istio's sidecar source is not this host");
    } finally {
      await app.close();
    }
  });

  it('without tokens: refused (403), unless loopback is trusted and the call comes from it', async () => {
    const closed = await repositoryApp();
    const trusting = await repositoryApp({ trustLoopback: true });
    try {
      for (const from of ['127.0.0.1', OUTSIDE]) assert.equal((await call(closed, '/v2/repository/models/alpha/load', { from })).statusCode, 403, from);
      assert.equal((await call(trusting, '/v2/repository/models/alpha/load', { from: OUTSIDE })).statusCode, 403);
      assert.equal((await call(trusting, '/v2/repository/models/alpha/load')).statusCode, 200);
      // The index is open, as gRPC's RepositoryIndex is.
      assert.deepEqual((await call(closed, '/v2/repository/index', { from: OUTSIDE })).json(), []);
    } finally {
      await closed.close();
      await trusting.close();
    }
  });
});

describe('the repository routes over REST: what Triton\'s clients send', () => {
  let app: FastifyInstance;
  before(async () => {
    app = await repositoryApp({ trustLoopback: true });
  });
  after(() => app.close());

  it('takes no body, JSON with no Content-Type, a form\'s Content-Type and null parameters', async () => {
    assert.equal((await call(app, '/v2/repository/models/alpha/load')).statusCode, 200);
    assert.equal((await call(app, '/v2/repository/models/alpha/load', { payload: '{}' })).statusCode, 200, 'tritonclient sends {} with no Content-Type');
    assert.equal((await call(app, '/v2/repository/models/alpha/load', { payload: '{}', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).statusCode, 200, 'curl -d');
    assert.equal((await call(app, '/v2/repository/models/alpha/load', { payload: '{"parameters": null}', headers: { 'content-type': 'application/json' } })).statusCode, 200);
    const garbled = await call(app, '/v2/repository/models/alpha/load', { payload: 'not json', headers: { 'content-type': 'text/plain' } });
    assert.equal(garbled.statusCode, 400);
    assert.match(errorOf(garbled), /not JSON/);
  });

  it('ignores unload_dependents, which tritonclient sends with every unload, and refuses other parameters', async () => {
    await call(app, '/v2/repository/models/beta/load');
    const unload = await call(app, '/v2/repository/models/beta/unload', { payload: '{"parameters":{"unload_dependents":false}}' });
    assert.equal(unload.statusCode, 200, unload.body);
    const config = await call(app, '/v2/repository/models/alpha/load', { payload: '{"parameters":{"config":"{}"}}' });
    assert.equal(config.statusCode, 400);
    assert.match(errorOf(config), /parameters are not taken here \(got config\)/);
  });

  it('answers in the protocol\'s error form: 404 for a folder the repository lacks, and for an unload of a model it does not serve', async () => {
    const missing = await call(app, '/v2/repository/models/gamma/load');
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(Object.keys(missing.json() as object), ['error']);
    assert.match(errorOf(missing), /no folder for gamma/);
    assert.equal((await call(app, '/v2/repository/models/gamma/unload')).statusCode, 404);
  });
});
