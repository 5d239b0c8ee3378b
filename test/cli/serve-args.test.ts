import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTmp } from '../fixtures/tiny-model.js';
import { runOod } from './run-cli.js';

describe('npm run ood -- serve, its arguments', () => {
  let tmp: Awaited<ReturnType<typeof makeTmp>>;
  const saved = { ...process.env };
  before(async () => {
    tmp = await makeTmp('serve-args');
    await mkdir(join(tmp.dir, 'seed', 'models', 'm'), { recursive: true });
    await writeFile(join(tmp.dir, 'seed', 'models', 'm', 'entry.json'), '{"seeded":true}');
    await mkdir(join(tmp.dir, 'models'));
    // The child inherits these: an empty models folder, and a cache of its own.
    Object.assign(process.env, { OOD_MODELS_DIR: join(tmp.dir, 'models'), OOD_CACHE_DIR: join(tmp.dir, 'cache'), LOG_LEVEL: 'info', PORT: '0', OOD_GRPC_PORT: '0' });
  });
  after(async () => {
    for (const key of ['OOD_MODELS_DIR', 'OOD_CACHE_DIR', 'LOG_LEVEL', 'PORT', 'OOD_GRPC_PORT']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
    await tmp.cleanup();
  });

  it('seeds the cache before loading the model --model names, and says which model it could not find', async () => {
    const run = await runOod(['serve', '--model', 'absent', '--seed-cache', join(tmp.dir, 'seed')]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout + run.stderr, /cache seeded/);
    assert.match(run.stdout + run.stderr, /absent/);
    assert.equal(await readFile(join(tmp.dir, 'cache', 'models', 'm', 'entry.json'), 'utf8'), '{"seeded":true}');
  });

  it('refuses an argument it does not know', async () => {
    const run = await runOod(['serve', '--modle', 'x']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /--modle/);
  });
});
