import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runOod } from './run-cli.js';

// The successful path (a cold build, then a start that reuses it) runs in the container test,
// where the image build warms the cache and the container must be ready within seconds.
describe('ood warm', () => {
  it('fails with the reason when the model does not exist', async () => {
    const result = await runOod(['warm', '--model', 'no-such-model']);
    assert.equal(result.code, 1, result.stderr + result.stdout);
    assert.match(result.stdout + result.stderr, /models\/no-such-model/);
  });

  it('refuses a model name that would leave the models folder', async () => {
    const result = await runOod(['warm', '--model', '../etc']);
    assert.equal(result.code, 1);
    assert.match(result.stdout + result.stderr, /"code":"CONFIG_INVALID".*OOD_MODEL=\\"\.\.\/etc\\": must match/);
  });

  it('rejects unknown options', async () => {
    const result = await runOod(['warm', '--modle', 'mnist']);
    assert.notEqual(result.code, 0);
  });
});
