import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DetectorSlot } from '../../src/lifecycle/detector-slot.js';
import { FakeDetector } from '../http/fake-detector.js';

const version = (v: string) => new FakeDetector({ info: { version: v } });

describe('DetectorSlot', () => {
  it('has nothing to lend before the first swap', () => {
    const slot = new DetectorSlot();
    assert.equal(slot.detector(), undefined);
    assert.equal(slot.acquire(), undefined);
  });

  it('keeps a swapped-out detector alive until its last lease is released, then disposes it once', () => {
    const slot = new DetectorSlot();
    const v1 = version('1');
    const v2 = version('2');
    slot.swap(v1);
    const first = slot.acquire();
    const second = slot.acquire();
    assert.equal(first?.detector, v1);

    slot.swap(v2);
    assert.equal(slot.detector(), v2, 'new requests see the new version at once');
    assert.equal(slot.acquire()?.detector, v2);
    assert.equal(v1.disposed, false, 'two requests still use v1');

    first?.release();
    first?.release(); // idempotent: a double release must not free v1 under the second request
    assert.equal(v1.disposed, false);
    second?.release();
    assert.equal(v1.disposed, true);
    assert.equal(v2.disposed, false);
  });

  it('disposes an unused detector as soon as it is swapped out, and the last one on swap(undefined)', () => {
    const slot = new DetectorSlot();
    const v1 = version('1');
    const v2 = version('2');
    slot.swap(v1);
    slot.swap(v2);
    assert.equal(v1.disposed, true);
    const lease = slot.acquire();
    slot.swap(undefined);
    assert.equal(slot.acquire(), undefined);
    assert.equal(v2.disposed, false);
    lease?.release();
    assert.equal(v2.disposed, true);
  });

  it('ignores a swap to the detector already serving, and survives a dispose that throws', () => {
    const errors: unknown[] = [];
    const slot = new DetectorSlot((err) => errors.push(err));
    const v1 = version('1');
    slot.swap(v1);
    slot.swap(v1);
    assert.equal(v1.disposed, false);
    const broken = version('broken');
    broken.dispose = () => {
      throw new Error('wasm memory already freed');
    };
    slot.swap(broken);
    assert.equal(v1.disposed, true);
    const lease = slot.acquire();
    slot.swap(version('2'));
    assert.doesNotThrow(() => lease?.release());
    assert.match(String(errors[0]), /wasm memory already freed/);
  });
});
