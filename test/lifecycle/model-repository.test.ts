import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OodError } from '../../src/errors.js';
import { ModelRepository } from '../../src/lifecycle/model-repository.js';
import { ServedModels } from '../../src/lifecycle/served-models.js';
import { FakeDetector } from '../http/fake-detector.js';
import { deferred } from '../support/async.js';

const rejectsWith = (code: string, message?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof OodError, String(err));
  assert.equal(err.code, code, err.message);
  if (message) assert.match(err.message, message);
  return true;
};

/** A repository over served models whose loads the test settles by hand, each a new version. */
function setup(bundles: Record<string, 'ok' | 'missing' | 'broken'> = { alpha: 'ok', beta: 'ok' }) {
  const models = new ServedModels([]);
  const built: FakeDetector[] = [];
  const gates: ReturnType<typeof deferred<void>>[] = [];
  const loads: string[] = [];
  let failNext: string | undefined;
  models.attach({
    load: async (name) => {
      loads.push(name);
      const gate = deferred<void>();
      gates.push(gate);
      await gate.promise;
      if (failNext) {
        const why = failNext;
        failNext = undefined;
        throw new Error(why);
      }
      const detector = new FakeDetector({ info: { name, version: `v${loads.filter((l) => l === name).length}` } });
      built.push(detector);
      return detector;
    },
    onOutcome: () => {},
    onDisposeError: () => {},
  });
  const repository = new ModelRepository(models, {
    locate: async (name) => {
      const state = bundles[name];
      if (state === undefined || state === 'missing') throw new OodError('MODEL_NOT_FOUND', `no folder for ${name}`);
      if (state === 'broken') throw new OodError('MODEL_INVALID', `models/ of ${name} holds two models`);
    },
  });
  /** Lets the next waiting load finish. */
  const release = async () => {
    while (gates.length === 0) await new Promise((resolve) => setImmediate(resolve));
    gates.shift()?.resolve();
  };
  return { models, repository, built, loads, release, failNextLoad: (why: string) => (failNext = why) };
}

describe('the model repository (load and unload by name)', () => {
  it('lists a model as loading at once, answers the load once it serves, and serves it under its own name', async () => {
    const { models, repository, release } = setup();
    const loading = repository.load('alpha');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(models.names(), ['alpha']);
    assert.equal(models.detector('alpha'), undefined, 'not served before its load ends');
    await release();
    const info = await loading;
    assert.equal(info.name, 'alpha');
    assert.equal(models.detector('alpha')?.info.version, 'v1');
  });

  it('joins a load already running instead of starting another, and answers a load of a model that serves at once, loading nothing', async () => {
    const { repository, loads, release, models } = setup();
    const first = repository.load('alpha');
    const second = repository.load('alpha');
    await release();
    assert.deepEqual([(await first).version, (await second).version], ['v1', 'v1']);
    assert.deepEqual(loads, ['alpha'], 'one load for two calls');
    // Seldon's agent asks again after any NOT_FOUND or UNAVAILABLE answer: nothing is rebuilt.
    assert.equal((await repository.load('alpha')).version, 'v1');
    assert.deepEqual(loads, ['alpha']);
    assert.equal(models.detector('alpha')?.info.version, 'v1');
  });

  it('tells every caller of a failed load why it failed, the ones that joined it too', async () => {
    const { repository, release, failNextLoad } = setup();
    failNextLoad('weights.bin does not match its checksum');
    const first = repository.load('alpha');
    const joined = repository.load('alpha');
    await release();
    for (const call of [first, joined]) await assert.rejects(call, rejectsWith('MODEL_LOAD_FAILED', /alpha failed to load: weights\.bin does not match/));
  });

  it('joins a reload started elsewhere (SIGHUP), and answers with what serves when that reload fails', async () => {
    const { repository, release, models, failNextLoad } = setup();
    const loading = repository.load('alpha');
    await release();
    await loading;
    models.start('alpha', 'sighup');
    failNextLoad('out of memory');
    const joined = repository.load('alpha');
    await release();
    assert.equal((await joined).version, 'v1', 'the previous version serves on, so the model is there');
  });

  it('refuses a name the repository lacks (NOT_FOUND) and a broken bundle (MODEL_LOAD_FAILED, with why), listing neither', async () => {
    const { repository, models } = setup({ alpha: 'missing', beta: 'broken' });
    await assert.rejects(repository.load('alpha'), rejectsWith('MODEL_NOT_FOUND', /no folder for alpha/));
    await assert.rejects(repository.load('beta'), rejectsWith('MODEL_LOAD_FAILED', /beta cannot be loaded: models\/ of beta holds two models/));
    assert.deepEqual(models.names(), []);
  });

  it('unlists a model whose load fails, and goes on serving the others', async () => {
    const { repository, models, release, failNextLoad } = setup();
    const loading = repository.load('beta');
    await release();
    await loading;
    failNextLoad('weights.bin does not match its checksum');
    const failing = repository.load('alpha');
    await release();
    await assert.rejects(failing, rejectsWith('MODEL_LOAD_FAILED', /alpha failed to load: weights\.bin does not match/));
    assert.deepEqual(models.names(), ['beta']);
    assert.equal(models.detector('beta')?.info.version, 'v1');
  });

  it('unloads at once for new requests, frees the detector after the last request under way, and says NOT_FOUND for a model it does not serve', async () => {
    const { repository, models, release, built } = setup();
    const loading = repository.load('alpha');
    await release();
    await loading;
    const lease = models.acquire('alpha');
    assert.ok(lease);
    assert.equal(repository.unload('alpha')?.version, 'v1');
    assert.deepEqual(models.names(), []);
    assert.equal(models.acquire('alpha'), undefined);
    assert.equal(built[0].disposed, false, 'a request under way keeps its detector');
    lease.release();
    assert.equal(built[0].disposed, true);
    assert.throws(() => repository.unload('alpha'), rejectsWith('MODEL_NOT_FOUND', /No model "alpha" is served here; the served models are none/));
  });

  it('answers a load that an unload overtook, and disposes what that load built', async () => {
    const { repository, release, built, models } = setup();
    const loading = repository.load('alpha');
    await new Promise((resolve) => setImmediate(resolve));
    repository.unload('alpha');
    await release();
    await assert.rejects(loading, rejectsWith('MODEL_LOAD_FAILED', /unloaded while it loaded/));
    assert.equal(built[0].disposed, true);
    assert.deepEqual(models.names(), []);
  });

  it('adds nothing once the shutdown has begun, even for a load that was reading its folder then', async () => {
    const models = new ServedModels([]);
    models.attach({ load: async (name) => new FakeDetector({ info: { name } }), onOutcome: () => {}, onDisposeError: () => {} });
    const located = deferred<void>();
    const repository = new ModelRepository(models, { locate: () => located.promise });
    const loading = repository.load('alpha');
    // The shutdown's first step closes the reloads; the repository itself is closed later.
    models.closeReloads();
    located.resolve();
    await assert.rejects(loading, rejectsWith('NOT_READY', /shutting down/));
    assert.deepEqual(models.names(), [], 'no model was added, so nothing was built to outlive the shutdown');
  });

  it('builds once when a second load finds the folder only after the first load has built', async () => {
    const models = new ServedModels([]);
    let builds = 0;
    models.attach({ load: async (name) => (builds++, new FakeDetector({ info: { name } })), onOutcome: () => {}, onDisposeError: () => {} });
    const slowLocate = deferred<void>();
    let locates = 0;
    const repository = new ModelRepository(models, { locate: () => (++locates === 2 ? slowLocate.promise : Promise.resolve()) });
    const first = repository.load('alpha');
    const second = repository.load('alpha');
    await first;
    slowLocate.resolve();
    await second;
    assert.equal(builds, 1);
  });

  it('answers a load at once while a reload (SIGHUP) replaces the model', async () => {
    const { repository, release, models, loads } = setup();
    const loading = repository.load('alpha');
    await release();
    await loading;
    models.start('alpha', 'sighup');
    assert.equal((await repository.load('alpha')).version, 'v1', 'answered by what serves, before the reload ends');
    await release();
    assert.deepEqual(loads, ['alpha', 'alpha']);
  });

  it('lets a build of an unloaded model end before the same name builds again', async () => {
    const { repository, release, loads, built, models } = setup();
    const first = repository.load('alpha');
    await new Promise((resolve) => setImmediate(resolve));
    repository.unload('alpha');
    const again = repository.load('alpha');
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(loads, ['alpha'], 'the second build waits');
    await release();
    await assert.rejects(first, rejectsWith('MODEL_LOAD_FAILED', /unloaded while it loaded/));
    await release();
    assert.equal((await again).version, 'v2');
    assert.equal(built[0].disposed, true);
    assert.equal(models.detector('alpha'), built[1]);
  });

  it('answers NOT_READY, not a load failure, for a build that ended after the shutdown began', async () => {
    const { repository, release, models } = setup();
    const loading = repository.load('alpha');
    await new Promise((resolve) => setImmediate(resolve));
    models.closeReloads();
    await release();
    await assert.rejects(loading, rejectsWith('NOT_READY', /shutting down/));
  });

  it('answers the loads still building when it closes, and takes no more', async () => {
    const { repository, models } = setup();
    const loading = repository.load('alpha');
    await new Promise((resolve) => setImmediate(resolve));
    repository.close();
    models.closeReloads();
    await assert.rejects(loading, rejectsWith('NOT_READY', /shutting down/));
    await assert.rejects(repository.load('beta'), rejectsWith('NOT_READY', /shutting down/));
  });

  it('never switches a repository model to another name, as a sole configured model may', async () => {
    const { repository, models, release } = setup();
    const loading = repository.load('alpha');
    await release();
    await loading;
    assert.equal(models.start('gamma', 'http'), undefined, 'gamma is not served, and alpha does not become it');
  });
});
