import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import type { Detector } from '../../src/detector/types.js';
import { startServer, type RunningServer } from '../../src/http/server.js';
import { deferred, waitFor } from '../support/async.js';
import { FakeDetector } from './fake-detector.js';

/**
 * The repository's loads and unloads against a real server whose loads the test controls: what
 * /metrics, the review and the reload counters say around an unload.
 */
describe('a model repository, around its unloads (a server with controlled loads)', () => {
  let dir: string;
  let server: RunningServer;
  let base: string;
  const gates = new Map<string, ReturnType<typeof deferred<void>>>();
  const loads: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ood-repository-server-'));
    for (const name of ['alpha', 'beta']) {
      await mkdir(join(dir, name, '1', 'models', name), { recursive: true });
      await writeFile(join(dir, name, '1', 'models', name, 'manifest.json'), '{}');
      await mkdir(join(dir, name, '1', 'reference-sets'));
    }
    const config = loadConfig({ PORT: '0', OOD_GRPC_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OOD_MODEL_REPOSITORY: dir, OOD_REVIEW_SIZE: '5' });
    server = await startServer({
      config,
      loadDetector: async (model): Promise<Detector> => {
        loads.push(model);
        await gates.get(model)?.promise;
        // Slow predictions, so a request can be under way across an unload.
        return new FakeDetector({ info: { name: model }, delayMs: 150, references: Array.from({ length: 8 }, (_, i) => ({ label: i % 2 ? 'b' : 'a', values: [i, 0, 0, 0] })) });
      },
      exit: () => assert.fail('a repository load never ends the process'),
    });
    base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const repository = () => server.app.repository as NonNullable<RunningServer['app']['repository']>;
  const metrics = async () => (await fetch(`${base}/metrics`)).text();
  const predict = (model: string) =>
    fetch(`${base}/v2/models/${model}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'x', shape: [2, 4], datatype: 'FP32', data: [10, 0, 0, 0, 0.1, 0, 0, 0] }] }),
    });

  it('charges each request its rows\' part of a batch in the search metric', async () => {
    await repository().load('beta');
    // One request of two rows, alone: its own search phases, all of them (1 ms and 2 ms).
    assert.equal((await predict('beta')).status, 200);
    const text = await metrics();
    const sum = (layer: string) => Number(new RegExp(`^ood_layer_search_duration_seconds_sum\\{model="beta",layer="${layer}"\\} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.ok(Math.abs(sum('dense_1') - 0.001) < 1e-6, String(sum('dense_1')));
    assert.ok(Math.abs(sum('dense_2') - 0.002) < 1e-6, String(sum('dense_2')));
    // Scored in a batch of 6 rows, 2 of them this request's: it pays a third of the batch's 3 ms.
    const detector = server.models.detector('beta') as Detector;
    const result = await detector.predict(Float32Array.from([10, 0, 0, 0, 0.1, 0, 0, 0]), 2);
    server.app.metrics.recordPrediction({ ...result, phases: [{ name: 'search', layer: 'dense_1', rows: 6, startMs: 0, endMs: 3 }], batchRows: 6 }, 'beta', 'rest');
    const charged = Number(/^ood_layer_search_duration_seconds_sum\{model="beta",layer="dense_1"\} (\S+)$/m.exec(await metrics())?.[1]);
    assert.ok(Math.abs(charged - (0.001 + 0.001)) < 1e-6, `1 ms alone, then a third of 3 ms: ${charged}`);
  });

  it('keeps an unloaded model off /metrics and out of the review, though a request of its finishes after the unload', async () => {
    await repository().load('alpha');
    const underway = predict('alpha');
    await waitFor(async () => server.app.drainCounts().inFlight > 0);
    repository().unload('alpha');
    assert.equal((await underway).status, 200, 'the request under way is answered');
    assert.doesNotMatch(await metrics(), /model="alpha"/);
    assert.equal(server.app.review?.page('alpha', 10).kept, 0);
    assert.equal((await predict('alpha')).status, 404);
  });

  it('counts no reload, and logs no failure, for a SIGHUP reload that an unload overtook', async () => {
    await repository().load('alpha');
    const gate = deferred<void>();
    gates.set('alpha', gate);
    const entry = server.models.find('alpha');
    server.models.start('alpha', 'sighup');
    repository().unload('alpha');
    gate.resolve();
    await entry?.reloader.settled();
    assert.equal(entry?.reloader.status().state, 'failed', 'the reload ended, its result thrown away');
    assert.doesNotMatch(await metrics(), /model="alpha"/);
    gates.delete('alpha');
  });
});
