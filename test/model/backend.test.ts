import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { activeBackend, BACKENDS, backendCandidates, initBackend, parseBackend } from '../../src/model/backend.js';

/** Whether the optional native binding is resolvable here (the brief says it is not). */
function tfjsNodeInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

describe('parseBackend', () => {
  it('accepts each of the three backend names and returns it unchanged', () => {
    assert.deepEqual([...BACKENDS], ['tensorflow', 'wasm', 'cpu']);
    for (const name of ['tensorflow', 'wasm', 'cpu']) assert.equal(parseBackend(name), name);
  });

  it('rejects other names with an error that lists the valid choices', () => {
    for (const bad of ['webgl', 'WASM', '', ' cpu', 'tensorflow-node']) {
      assert.throws(
        () => parseBackend(bad),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.ok(err.message.includes(`"${bad}"`), err.message);
          assert.match(err.message, /valid choices: tensorflow, wasm, cpu$/);
          return true;
        },
      );
    }
  });
});

describe('backendCandidates', () => {
  it('tries the preference list, native first, when nothing is requested', () => {
    assert.deepEqual(backendCandidates(), ['tensorflow', 'wasm', 'cpu']);
    assert.deepEqual(backendCandidates(undefined), ['tensorflow', 'wasm', 'cpu']);
  });

  it('tries only the requested backend when one is named', () => {
    assert.deepEqual(backendCandidates('cpu'), ['cpu']);
    assert.deepEqual(backendCandidates('wasm'), ['wasm']);
    assert.deepEqual(backendCandidates('tensorflow'), ['tensorflow']);
  });

  it('returns a fresh array each time, so callers cannot corrupt BACKENDS', () => {
    const list = backendCandidates();
    list.pop();
    assert.deepEqual(backendCandidates(), ['tensorflow', 'wasm', 'cpu']);
  });
});

describe('initBackend', () => {
  it('is running on a machine without tfjs-node (precondition of the fallback tests)', () => {
    assert.equal(tfjsNodeInstalled(), false);
  });

  it('falls back to wasm and says why tensorflow was skipped', async () => {
    const choice = await initBackend();
    assert.equal(choice.backend, 'wasm');
    assert.equal(choice.skipped.length, 1);
    assert.equal(choice.skipped[0].backend, 'tensorflow');
    assert.match(choice.skipped[0].reason, /@tensorflow\/tfjs-node/);
    // Only the first line of the import error is kept, for a one-line start-up log.
    assert.ok(!choice.skipped[0].reason.includes('\n'));
    assert.equal(activeBackend(), 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    // The backend really computes.
    assert.deepEqual(tf.tidy(() => Array.from(tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).dataSync())), [4, 6]);
  });

  it('uses exactly the requested backend, with nothing skipped', async () => {
    assert.deepEqual(await initBackend('cpu'), { backend: 'cpu', skipped: [] });
    assert.equal(activeBackend(), 'cpu');
    assert.deepEqual(await initBackend('wasm'), { backend: 'wasm', skipped: [] });
    assert.equal(activeBackend(), 'wasm');
  });

  it('fails with every reason when the only requested backend cannot load', async () => {
    await assert.rejects(initBackend('tensorflow'), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, /^no tfjs backend could be initialised \(tensorflow: .*@tensorflow\/tfjs-node.*\)$/);
      return true;
    });
    // A failed attempt leaves the previous backend active.
    assert.equal(activeBackend(), 'wasm');
  });
});
