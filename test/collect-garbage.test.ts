import assert from 'node:assert/strict';
import { it } from 'node:test';
import { collectGarbage } from '../src/collect-garbage.js';

it('collectGarbage frees an unreachable buffer now, without --expose-gc on the command line', () => {
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'the test runs without --expose-gc');
  let buffer: Float32Array | undefined = new Float32Array(50 * 2 ** 20).fill(1);
  const held = process.memoryUsage().arrayBuffers;
  assert.ok(held >= buffer.byteLength);
  buffer = undefined;
  const ms = collectGarbage();
  assert.ok(ms !== undefined && ms >= 0);
  assert.ok(process.memoryUsage().arrayBuffers <= held - 150 * 2 ** 20, 'the 200 MB buffer is gone');
});
