import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.js';
import { OodError } from '../../src/errors.js';
import { parseTokens } from '../../src/config.js';
import { loadApiTokens } from '../../src/http/api-tokens.js';
import { tokenMatches } from '../../src/http/plugins/auth.js';
import { FakeDetector, FakeHost } from './fake-detector.js';
import { assertError, buildTestApp } from './helpers.js';

const body = { instances: [[0.1, 0.2, 0.3, 0.4]] };
const predict = (app: FastifyInstance, authorization?: string) =>
  app.inject({
    method: 'POST',
    url: '/predict',
    headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
    payload: body,
  });

describe('bearer authentication', () => {
  let app: FastifyInstance;

  before(async () => {
    app = await buildTestApp(new FakeHost(new FakeDetector()), { apiTokens: ['alpha-token', 'beta-token'] });
  });
  after(() => app.close());

  it('answers 401 JSON with a Bearer challenge without a token, with a wrong one, or a malformed header', async () => {
    for (const header of [undefined, 'Bearer wrong', 'Bearer alpha-tokenX', 'Basic YWxwaGE6dG9rZW4=', 'Bearer', 'alpha-token']) {
      const res = await predict(app, header);
      const error = assertError(res, 401, 'UNAUTHORIZED');
      assert.equal(res.headers['www-authenticate'], 'Bearer');
      assert.ok(!error.error.message.includes('alpha'), 'the message must not echo a token');
    }
  });

  it('accepts every configured token, case-insensitive scheme', async () => {
    for (const header of ['Bearer alpha-token', 'bearer beta-token', 'Bearer   beta-token  ']) {
      const res = await predict(app, header);
      assert.equal(res.statusCode, 200, res.body);
    }
  });

  it('leaves the probes and /metrics open', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics']) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
    }
  });

  it('checks the token before the body, so an unauthenticated bad body is still 401', async () => {
    const res = await app.inject({ method: 'POST', url: '/predict', headers: { 'content-type': 'application/json' }, payload: '{' });
    assertError(res, 401, 'UNAUTHORIZED');
  });
});

describe('without tokens', () => {
  it('serves /predict to anyone', async () => {
    const app = await buildTestApp(new FakeHost(new FakeDetector()));
    try {
      assert.equal((await predict(app)).statusCode, 200);
    } finally {
      await app.close();
    }
  });

  it('refuses repository loads and unloads, unless loopback is trusted and the call comes from it', async () => {
    const refused = (message: RegExp) => (err: unknown) => err instanceof OodError && err.code === 'ADMIN_DISABLED' && message.test(err.message);
    const closed = await buildTestApp(new FakeHost(new FakeDetector()));
    const trusting = await buildTestApp(new FakeHost(new FakeDetector()), { repositoryTrustLoopback: true });
    try {
      for (const fromLoopback of [false, true]) assert.throws(() => closed.checkRepositoryCaller(undefined, fromLoopback), refused(/needs bearer tokens .* or OOD_REPOSITORY_TRUST_LOOPBACK=true/));
      trusting.checkRepositoryCaller(undefined, true);
      assert.throws(() => trusting.checkRepositoryCaller('Bearer anything', false), refused(/only from this host's loopback/));
    } finally {
      await closed.close();
      await trusting.close();
    }
  });
});

describe('repository callers with tokens', () => {
  it('need a valid token, but none from loopback when it is trusted', async () => {
    const app = await buildTestApp(new FakeHost(new FakeDetector()), { apiTokens: ['alpha-token'], repositoryTrustLoopback: true });
    const untrusting = await buildTestApp(new FakeHost(new FakeDetector()), { apiTokens: ['alpha-token'] });
    try {
      app.checkRepositoryCaller(undefined, true);
      app.checkRepositoryCaller('Bearer alpha-token', false);
      untrusting.checkRepositoryCaller('Bearer alpha-token', true);
      assert.throws(() => untrusting.checkRepositoryCaller(undefined, true), (err: unknown) => err instanceof OodError && err.code === 'UNAUTHORIZED');
      for (const authorization of [undefined, 'Bearer wrong']) {
        assert.throws(() => app.checkRepositoryCaller(authorization, false), (err: unknown) => err instanceof OodError && err.code === 'UNAUTHORIZED');
      }
    } finally {
      await app.close();
      await untrusting.close();
    }
  });
});

describe('tokens from the environment and a file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ood-tokens-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('parses commas and new lines and drops blanks', () => {
    assert.deepEqual(parseTokens(' a, b ,,\nc\n\n'), ['a', 'b', 'c']);
    assert.deepEqual(loadConfig({ OOD_API_TOKENS: 'x,y' }).apiTokens, ['x', 'y']);
    assert.deepEqual(loadConfig({}).apiTokens, []);
  });

  it('adds the tokens of OOD_API_TOKENS_FILE, and refuses a missing or empty file', async () => {
    const file = join(dir, 'tokens');
    await writeFile(file, 'from-file-1\nfrom-file-2\n');
    assert.deepEqual(await loadApiTokens(['env'], file), ['env', 'from-file-1', 'from-file-2']);
    await assert.rejects(loadApiTokens([], join(dir, 'missing')), (err: unknown) => err instanceof OodError && err.code === 'CONFIG_INVALID');
    await writeFile(join(dir, 'empty'), '\n');
    await assert.rejects(loadApiTokens([], join(dir, 'empty')), /holds no token/);
  });

  it('compares digests, matching only an exact token', () => {
    const digests = ['one', 'two'].map((t) => createHash('sha256').update(t).digest());
    assert.equal(tokenMatches('two', digests), true);
    assert.equal(tokenMatches('tw', digests), false);
    assert.equal(tokenMatches('', digests), false);
  });
});
