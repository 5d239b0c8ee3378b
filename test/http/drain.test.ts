import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/http/server.js';
import { waitFor } from '../support/async.js';
import { FakeDetector } from './fake-detector.js';

describe('draining on shutdown', () => {
  it('turns unready at once, keeps serving with Connection: close for the drain delay, then stops listening', async () => {
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OOD_DRAIN_DELAY_MS: '600' });
    const detector = new FakeDetector();
    const { app, close } = await startServer({ config, loadDetector: async () => detector });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200);

    const closed = close();
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(((await ready.json()) as { error: { message: string } }).error.message, /shutting down/);
    const served = await fetch(`${base}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [[1, 0, 0, 0]] }),
    });
    assert.equal(served.status, 200, 'a request that arrives while draining is still answered');
    assert.equal(served.headers.get('connection'), 'close');
    assert.equal(detector.disposed, false);
    await closed;
    assert.equal(detector.disposed, true, 'the detector is freed once the last request is done');
    assert.deepEqual(app.drainCounts(), { inFlight: 0, answered: 2, unfinished: 0 });
    await assert.rejects(fetch(`${base}/healthz`));
  });
});
