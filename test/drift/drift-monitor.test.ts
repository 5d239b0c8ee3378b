import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DriftMonitor, DriftStatusSchema, MAX_WAIT_MS, MAX_WAITING, MAX_WAITING_VALUES } from '../../src/drift/drift-monitor.js';
import { DriftStatistic } from '../../src/drift/drift-statistic.js';
import { createRng } from '../../src/math/random.js';

const options = (seed = 1) => ({ model: 'm', version: '3', calibrationSize: 100, delta: 0.01, rng: createRng(seed) });

test('results that finish out of order enter in the order their requests were admitted', () => {
  const monitor = new DriftMonitor(options());
  const first = monitor.admit();
  const second = monitor.admit();
  const third = monitor.admit();
  third.record([0.5]);
  second.record([0.01, 0.02]);
  assert.equal(monitor.status().predictions, 0, 'nothing enters before the first request is settled');
  assert.equal(monitor.pending, 3);
  first.record([1]);
  assert.equal(monitor.status().predictions, 4);
  assert.equal(monitor.pending, 0);

  // The same p-values in admission order, into a statistic with the same tie-breaking draws.
  const expected = new DriftStatistic(options());
  for (const p of [1, 0.01, 0.02, 0.5]) expected.update(p);
  assert.equal(monitor.status().statistic, expected.log10());
});

test('a cancelled request gives its place up, and settling twice counts once', () => {
  const monitor = new DriftMonitor(options());
  const failed = monitor.admit();
  const ok = monitor.admit();
  ok.record([0.3, 0.4]);
  ok.record([0.3]);
  failed.cancel();
  failed.record([0.2]);
  assert.equal(monitor.status().predictions, 2);
  assert.equal(monitor.pending, 0);
});

test('the alarm latches when the statistic first reaches 1/delta, with the time and count', () => {
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const monitor = new DriftMonitor({ ...options(), now: () => new Date(clock) });
  assert.equal(monitor.status().since, '2026-01-01T00:00:00.000Z');
  const clean = createRng(9);
  for (let i = 0; i < 2000; i++) monitor.admit().record([Math.ceil(clean() * 101) / 101]);
  assert.equal(monitor.status().alarm, false);
  clock += 60_000;
  let n = 0;
  while (!monitor.status().alarm && n < 500) {
    monitor.admit().record([1 / 101]);
    n++;
  }
  const status = DriftStatusSchema.parse(monitor.status());
  assert.equal(status.alarm, true, 'a run of the smallest p-value alarms');
  assert.equal(status.alarmed_at?.time, '2026-01-01T00:01:00.000Z');
  assert.equal(status.alarmed_at?.predictions, 2000 + n);
  assert.equal(status.threshold, 2);
  assert.ok(status.statistic >= 2);
  // Clean traffic again lowers the statistic, but the alarm stays until a reset.
  for (let i = 0; i < 20_000; i++) monitor.admit().record([Math.ceil(clean() * 101) / 101]);
  assert.equal(monitor.status().alarm, true);
});

test('p-values that are not in (0, 1] are left out, not thrown at the request', () => {
  const monitor = new DriftMonitor(options());
  monitor.admit().record([0, Number.NaN, 2, 0.5]);
  assert.equal(monitor.status().predictions, 1);
});

test('a request that never finishes holds later results back only until MAX_WAITING of them wait', () => {
  const monitor = new DriftMonitor(options());
  const hung = monitor.admit();
  for (let i = 0; i < MAX_WAITING - 1; i++) monitor.admit().record([0.5]);
  assert.equal(monitor.status().predictions, 0, 'held back behind the hung request');
  monitor.admit().record([0.5]);
  assert.equal(monitor.status().predictions, MAX_WAITING);
  assert.equal(monitor.pending, 0);
  hung.record([0.01]);
  assert.equal(monitor.status().predictions, MAX_WAITING, 'the given-up ticket does not enter late');
});

test('or until MAX_WAITING_VALUES p-values wait, however few requests carry them', () => {
  const monitor = new DriftMonitor(options());
  monitor.admit();
  const batch = Array.from({ length: 256 }, () => 0.5);
  const requests = Math.ceil(MAX_WAITING_VALUES / batch.length);
  for (let i = 0; i < requests - 1; i++) monitor.admit().record(batch);
  assert.equal(monitor.status().predictions, 0);
  monitor.admit().record(batch);
  assert.equal(monitor.status().predictions, requests * batch.length);
  assert.equal(monitor.pending, 0);
});

test('a request that hangs is given up after MAX_WAIT_MS, and later results enter', () => {
  let clock = 0;
  const monitor = new DriftMonitor({ ...options(), now: () => new Date(clock) });
  const hung = monitor.admit();
  monitor.admit().record([0.5]);
  assert.deepEqual([monitor.status().predictions, monitor.status().pending], [0, 2]);
  clock += MAX_WAIT_MS + 1;
  monitor.admit().record([0.5]);
  assert.deepEqual([monitor.status().predictions, monitor.status().pending], [2, 0]);
  hung.cancel();
  assert.equal(monitor.status().predictions, 2);
});
