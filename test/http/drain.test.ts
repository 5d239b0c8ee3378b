import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { Gauge } from 'prom-client';
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

describe('closing the metrics port', () => {
  // A scrape in flight when close began used to get a keep-alive answer, and Node's
  // server.close() then waited on that socket until Prometheus or the keep-alive timeout (72 s)
  // ended it: long past the shutdown grace period, so the process exited 1.
  it('answers a scrape in flight with Connection: close, so the close does not wait on its socket', async () => {
    const config = loadConfig({ PORT: '0', OOD_METRICS_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OOD_DRAIN_DELAY_MS: '0' });
    const { app, metricsApp, close } = await startServer({ config, loadDetector: async () => new FakeDetector() });
    assert.ok(metricsApp);
    let releaseScrape = () => {};
    const scrapeStarted = new Promise<void>((started) => {
      new Gauge({
        name: 'test_slow_collect',
        help: 'Holds a scrape open until the test releases it.',
        registers: [app.metrics.registry],
        collect: () => new Promise<void>((release) => { releaseScrape = release; started(); }),
      });
    });
    const agent = new http.Agent({ keepAlive: true });
    const port = (metricsApp.server.address() as AddressInfo).port;
    const scrape = new Promise<http.IncomingMessage>((answered, failed) => {
      http.get({ host: '127.0.0.1', port, path: '/metrics', agent }, answered).on('error', failed);
    });
    await scrapeStarted;
    let closedAt: number | undefined;
    const closed = close().then(() => { closedAt = Date.now(); });
    // The metrics port closes after the API port: the scrape is still being collected when it does.
    await waitFor(async () => !metricsApp.server.listening);
    releaseScrape();
    const response = await scrape;
    response.resume();
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers.connection, 'close');
    const answeredAt = Date.now();
    // Without the fix this waits for the keep-alive timeout; 5 s is far more than a close needs.
    const bound = new Promise((resolve) => setTimeout(resolve, 5_000).unref());
    await Promise.race([closed, bound]);
    agent.destroy();
    assert.ok(closedAt !== undefined, 'the close still waits on the scrape socket 5 s after its answer');
    assert.ok(closedAt >= answeredAt - 50);
    await closed;
  });
});

describe('closing with a connection that never sent a request', () => {
  // Node counts such a socket as busy, so server.close() alone would wait for the client.
  it('destroys it once the listener has closed, and the close completes', async () => {
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OOD_DRAIN_DELAY_MS: '100' });
    const { app, close } = await startServer({ config, loadDetector: async () => new FakeDetector() });
    const port = (app.server.address() as AddressInfo).port;
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((connected) => socket.once('connect', connected));
    const socketClosed = new Promise((ended) => socket.once('close', ended));
    let closedAt: number | undefined;
    const closed = close().then(() => { closedAt = Date.now(); });
    const bound = new Promise((resolve) => setTimeout(resolve, 5_000).unref());
    await Promise.race([closed, bound]);
    assert.ok(closedAt !== undefined, 'the close still waits on the silent socket after 5 s');
    await socketClosed;
    await closed;
  });
});
