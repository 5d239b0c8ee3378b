import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { Gauge } from 'prom-client';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/http/server.js';
import { waitFor } from '../support/async.js';
import { freePort } from '../../scripts/bench/server.js';
import { FakeDetector } from './fake-detector.js';
import { grpcStatus, oipClient } from './grpc-client.js';

describe('draining on shutdown', () => {
  it('turns unready at once, keeps serving with Connection: close for the drain delay, then stops listening', async () => {
    const config = loadConfig({ PORT: '0', OOD_GRPC_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OOD_DRAIN_DELAY_MS: '600' });
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

describe('draining gRPC on shutdown', () => {
  it('says NOT_SERVING at once, finishes a call in flight, ends health watches, then takes no more calls', async () => {
    const grpcPort = await freePort();
    const config = loadConfig({ PORT: '0', OOD_GRPC_PORT: String(grpcPort), HOST: '127.0.0.1', LOG_LEVEL: 'silent', OOD_DRAIN_DELAY_MS: '300' });
    // Each prediction takes 800 ms: the call below is still running when the close begins.
    const detector = new FakeDetector({ delayMs: 800 });
    const { app, close } = await startServer({ config, loadDetector: async () => detector });
    const client = oipClient(grpcPort);
    try {
      await waitFor(async () => (await client.health()) === 'SERVING');
      const watched: string[] = [];
      const watch = client.watch('');
      watch.on('data', (m: { status: string }) => watched.push(m.status));
      const watchEnded = new Promise<string>((resolve) => watch.on('end', () => resolve('end')).on('error', (err) => resolve(`error: ${err.message}`)));
      await waitFor(async () => watched.length === 1);

      const inFlight = client.call('ModelInfer', { modelName: 'fake', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], contents: { fp32Contents: [1, 0, 0, 0] } }] });
      await waitFor(async () => detector.calls.length === 1);
      const closed = close();
      assert.equal(await client.health(), 'NOT_SERVING', 'unready as soon as the close begins');
      const answer = await inFlight;
      assert.equal((answer.outputs as unknown[]).length > 0, true, 'the call in flight is answered');
      assert.equal(await watchEnded, 'end', 'the watch is ended by the server, not cut');
      assert.deepEqual(watched, ['SERVING', 'NOT_SERVING'], 'the watch hears the drain once, then ends');
      await closed;
      assert.equal(detector.disposed, true);
      await assert.rejects(client.call('ServerLive'), grpcStatus('UNAVAILABLE'));
    } finally {
      client.close();
      await app.close().catch(() => undefined);
    }
  });
});

describe('closing the metrics port', () => {
  // A scrape in flight when close began used to get a keep-alive answer, and Node's
  // server.close() then waited on that socket until Prometheus or the keep-alive timeout (72 s)
  // ended it: long past the shutdown grace period, so the process exited 1.
  it('answers a scrape in flight with Connection: close, so the close does not wait on its socket', async () => {
    const config = loadConfig({ PORT: '0', OOD_METRICS_PORT: '0', OOD_GRPC_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OOD_DRAIN_DELAY_MS: '0' });
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
    const config = loadConfig({ PORT: '0', OOD_GRPC_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', OOD_DRAIN_DELAY_MS: '100' });
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
