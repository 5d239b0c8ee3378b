import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PressureMonitor } from '../../src/http/pressure-monitor.js';

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin: a synchronous burst, as scoring a batch is
  }
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('PressureMonitor', () => {
  it('reads a stall as its own length, not Infinity, however it falls against the ticks', async () => {
    const monitor = new PressureMonitor({ intervalMs: 20, halfLifeMs: 100 });
    try {
      for (const stall of [150, 1200]) {
        await sleep(300);
        busyWait(stall);
        // Right after the stall, before the next tick: the overdue tick already shows it.
        const during = monitor.eventLoopDelayMs();
        await sleep(1);
        const after = monitor.eventLoopDelayMs();
        for (const reading of [during, after]) {
          assert.ok(Number.isFinite(reading), `${stall} ms stall read as ${reading}`);
          // A loaded machine can only make the loop later, never earlier.
          assert.ok(reading >= stall - 40, `${stall} ms stall read as ${reading.toFixed(0)} ms`);
          assert.ok(reading <= stall + 1000, `${stall} ms stall read as ${reading.toFixed(0)} ms`);
        }
      }
    } finally {
      monitor.stop();
    }
  });

  it('fades once the loop keeps up again', async () => {
    const monitor = new PressureMonitor({ intervalMs: 20, halfLifeMs: 50 });
    try {
      busyWait(400);
      await sleep(1);
      assert.ok(monitor.eventLoopDelayMs() >= 300);
      // Ten half-lives: whatever is left is the machine's own jitter.
      let reading = Infinity;
      for (let attempt = 0; attempt < 20 && reading >= 100; attempt++) {
        await sleep(500);
        reading = monitor.eventLoopDelayMs();
      }
      assert.ok(reading < 100, `still ${reading.toFixed(0)} ms`);
    } finally {
      monitor.stop();
    }
  });

  it('samples the heap in use, and follows it as it grows', async () => {
    const monitor = new PressureMonitor({ intervalMs: 20, halfLifeMs: 50 });
    try {
      const before = monitor.heapUsedBytes();
      // 64 MB of live JS objects: a change no sampling noise can hide.
      const ballast = Array.from({ length: 1_000 }, () => Array.from({ length: 8_000 }, (_, i) => i + 0.5));
      await sleep(200);
      const after = monitor.heapUsedBytes();
      assert.ok(after - before > 30e6, `heap read ${before} then ${after} bytes with ~64 MB more alive`);
      assert.ok(Math.abs(after - process.memoryUsage().heapUsed) < 32e6, 'it reads the heap in use, not another figure');
      assert.equal(ballast.length, 1_000);
    } finally {
      monitor.stop();
    }
  });
});
