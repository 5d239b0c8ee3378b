import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DetectorSlot } from '../../src/lifecycle/detector-slot.js';
import { Reloader, type ReloadStatus } from '../../src/lifecycle/reloader.js';
import type { Detector } from '../../src/detector/types.js';
import { FakeDetector } from '../http/fake-detector.js';
import { deferred } from '../support/async.js';

function setup() {
  const slot = new DetectorSlot();
  const old = new FakeDetector({ info: { version: 'old' } });
  slot.swap(old);
  const pending = deferred<Detector>();
  const outcomes: { outcome: string; status: ReloadStatus }[] = [];
  const loads: string[] = [];
  const reloader = new Reloader({
    slot,
    load: (model) => {
      loads.push(model);
      return pending.promise;
    },
    onOutcome: (outcome, status) => outcomes.push({ outcome, status }),
  });
  return { slot, old, pending, outcomes, loads, reloader };
}

describe('Reloader', () => {
  it('keeps the old detector serving while the new one loads, then swaps it in', async () => {
    const { slot, old, pending, outcomes, loads, reloader } = setup();
    assert.equal(reloader.start('fashion-mnist', 'http'), true);
    assert.equal(reloader.status().state, 'loading');
    assert.equal(slot.detector(), old);

    const next = new FakeDetector({ info: { name: 'fashion-mnist', version: 'new' } });
    pending.resolve(next);
    await reloader.settled();
    assert.deepEqual(loads, ['fashion-mnist']);
    assert.equal(slot.detector(), next);
    assert.equal(old.disposed, true);
    const status = reloader.status();
    assert.equal(status.state, 'succeeded');
    assert.equal(status.version, 'new');
    assert.equal(status.trigger, 'http');
    assert.ok(status.started_at && status.finished_at);
    assert.deepEqual(
      outcomes.map((o) => o.outcome),
      ['success'],
    );
  });

  it('refuses a second reload while one runs', async () => {
    const { pending, loads, reloader } = setup();
    assert.equal(reloader.start('mnist', 'sighup'), true);
    assert.equal(reloader.start('fashion-mnist', 'http'), false);
    assert.equal(reloader.busy, true);
    pending.resolve(new FakeDetector());
    await reloader.settled();
    assert.deepEqual(loads, ['mnist']);
    assert.equal(reloader.busy, false);
    assert.equal(reloader.start('mnist', 'http'), true, 'a new reload may start once the last has finished');
  });

  it('leaves the old detector serving when the load fails, and says why', async () => {
    const { slot, old, pending, outcomes, reloader } = setup();
    reloader.start('mnist', 'http');
    pending.reject(new Error('models/mnist/weights.bin has 12 bytes, the topology needs 40'));
    await reloader.settled();
    assert.equal(slot.detector(), old);
    assert.equal(old.disposed, false);
    assert.equal(reloader.status().state, 'failed');
    assert.match(reloader.status().error ?? '', /weights\.bin has 12 bytes/);
    assert.deepEqual(
      outcomes.map((o) => o.outcome),
      ['failure'],
    );
  });

  it('turns a loader that throws synchronously into a failed reload, not a crash', async () => {
    const slot = new DetectorSlot();
    const reloader = new Reloader({
      slot,
      load: () => {
        throw new Error('bad name');
      },
    });
    assert.equal(reloader.start('x', 'http'), true);
    await reloader.settled();
    assert.equal(reloader.status().state, 'failed');
  });

  it('disposes what finishes loading after close instead of serving it', async () => {
    const { slot, old, pending, reloader } = setup();
    reloader.start('mnist', 'http');
    reloader.close();
    assert.equal(reloader.start('mnist', 'http'), false, 'no reload starts after close');
    const late = new FakeDetector({ info: { version: 'late' } });
    pending.resolve(late);
    await reloader.settled();
    assert.equal(late.disposed, true);
    assert.equal(slot.detector(), old);
  });
});
