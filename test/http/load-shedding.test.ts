import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { FakeDetector, FakeHost } from './fake-detector.js';
import { assertError, buildTestApp } from './helpers.js';

/** Blocks the event loop, as a long synchronous scoring burst would. */
function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('load shedding', () => {
  let app: FastifyInstance;

  before(async () => {
    app = await buildTestApp(new FakeHost(new FakeDetector()), {
      loadShedding: { maxEventLoopDelayMs: 150, maxHeapUsedBytes: 0, retryAfterSeconds: 2, sampleIntervalMs: 20 },
    });
    await app.ready();
  });
  after(() => app.close());

  const predict = () =>
    app.inject({ method: 'POST', url: '/predict', headers: { 'content-type': 'application/json' }, payload: { instances: [[1, 2, 3, 4]] } });

  /** Start-up work (module loading, a busy CI machine) can itself lag the loop for a while. */
  async function predictWhenIdle() {
    let res = await predict();
    for (let attempt = 0; attempt < 40 && res.statusCode !== 200; attempt++) {
      await sleep(50);
      res = await predict();
    }
    return res;
  }

  it('scores normally while the event loop keeps up', async () => {
    assert.equal((await predictWhenIdle()).statusCode, 200);
  });

  it('sheds /predict with a quick 503 and Retry-After after the loop stalls, and keeps the probes up', async () => {
    // The sampler runs on a timer: right after a stall its next tick sees the lag. Timers are
    // not exact under load, so the stall is retried a few times before the test gives up.
    let res = await predict();
    for (let attempt = 0; attempt < 5 && res.statusCode !== 503; attempt++) {
      busyWait(600);
      await sleep(2);
      res = await predict();
    }
    assertError(res, 503, 'OVERLOADED');
    assert.equal(res.headers['retry-after'], '2');
    assert.match(res.json().error.message, /event loop delay at \d+ ms, bound 150 ms/);
    for (const url of ['/healthz', '/metrics']) assert.equal((await app.inject({ method: 'GET', url })).statusCode, 200, url);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /^ood_requests_shed_total\{reason="event_loop_delay"\} [1-9]/m);
  });

  it('recovers once the loop is idle again', async () => {
    assert.equal((await predictWhenIdle()).statusCode, 200);
  });

  it('sheds on heap use past its bound, before reading the body', async () => {
    const tight = await buildTestApp(new FakeHost(new FakeDetector()), {
      loadShedding: { maxEventLoopDelayMs: 0, maxHeapUsedBytes: 1, retryAfterSeconds: 1 },
    });
    try {
      const res = await tight.inject({ method: 'POST', url: '/predict', headers: { 'content-type': 'application/json' }, payload: '{not json' });
      assert.match(assertError(res, 503, 'OVERLOADED').error.message, /heap used at \d+ bytes, bound 1/);
      assert.equal((await tight.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    } finally {
      await tight.close();
    }
  });
});
