import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { serviceDetectorLoader } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config.js';
import { PredictResponseSchema } from '../../src/http/schemas.js';
import { startServer } from '../../src/http/server.js';
import { loadReferenceSet } from '../../src/reference/load-reference-set.js';
import { waitFor } from '../support/async.js';

const TOKEN = 'reload-threaded-token';
const auth = { authorization: `Bearer ${TOKEN}` };

/**
 * reload.test.ts proves the swap on a fake detector; this runs it on what `npm start` serves:
 * the mnist detector on two scoring threads behind the dynamic batcher, so that batches in
 * flight on the old version's threads finish before those threads are stopped.
 */
describe('reload of the served detector (scoring threads and dynamic batching)', () => {
  it('answers every request during a reload, with none failed or lost', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'ood-reload-threaded-'));
    const config = loadConfig({
      PORT: '0', OOD_GRPC_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OOD_API_TOKENS: TOKEN, OOD_CACHE_DIR: cacheDir, OOD_SCORING_THREADS: '2',
    });
    const { app, close } = await startServer({ config, loadDetector: serviceDetectorLoader(config) });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 120_000);
      const refset = await loadReferenceSet(config.referenceSetsDir, 'mnist');
      const digit = (i: number) => Array.from(refset.test.x.data.subarray(i * 784, (i + 1) * 784));
      const answers: { status: number; body: unknown }[] = [];
      let stop = false;
      const client = async (c: number) => {
        for (let n = 0; !stop; n++) {
          const instances = Array.from({ length: 1 + (n % 3) }, (_, i) => digit((c * 50 + n + i) % 1000));
          try {
            const res = await fetch(`${base}/predict`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', ...auth },
              body: JSON.stringify({ instances }),
            });
            answers.push({ status: res.status, body: await res.json() });
          } catch (err) {
            answers.push({ status: 0, body: String((err as Error).cause ?? err) });
          }
        }
      };
      const clients = Array.from({ length: 6 }, (_, c) => client(c));
      try {
        const accepted = await fetch(`${base}/admin/reload`, { method: 'POST', headers: auth });
        assert.equal(accepted.status, 202);
        await waitFor(
          async () => ((await (await fetch(`${base}/admin/reload`, { headers: auth })).json()) as { state: string }).state === 'succeeded',
          120_000,
        );
        const after = answers.length;
        await waitFor(async () => answers.length > after + 20);
      } finally {
        stop = true;
        await Promise.all(clients);
      }
      assert.deepEqual(answers.filter((a) => a.status !== 200), []);
      for (const { body } of answers) {
        const parsed = PredictResponseSchema.parse(body);
        assert.equal(parsed.model.name, 'mnist');
        for (const p of parsed.predictions) assert.ok(p.layers.length === 4 && Number.isFinite(p.outlier_score));
      }
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(metrics, /^ood_model_reloads_total\{model="mnist",outcome="success"\} 1$/m);
    } finally {
      await close();
      await rm(cacheDir, { recursive: true, force: true });
    }
    assert.equal(app.server.listening, false);
  });
});
