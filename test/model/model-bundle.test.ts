import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OodError } from '../../src/errors.js';
import { findBundle } from '../../src/model/model-bundle.js';
import { isLoopbackPeer } from '../../src/http/peer.js';

const failsWith = (code: string, message: RegExp) => (err: unknown) => {
  assert.ok(err instanceof OodError, String(err));
  assert.equal(err.code, code);
  assert.match(err.message, message);
  return true;
};

/** A bundle's folders, with a manifest file for each model named. */
async function bundleAt(dir: string, models: string[], referenceSets = true): Promise<void> {
  for (const model of models) {
    await mkdir(join(dir, 'models', model), { recursive: true });
    await writeFile(join(dir, 'models', model, 'manifest.json'), '{}');
  }
  await mkdir(join(dir, 'models'), { recursive: true });
  if (referenceSets) await mkdir(join(dir, 'reference-sets', 'set'), { recursive: true });
}

describe('findBundle: a model repository\'s layout', () => {
  let repo: string;
  before(async () => {
    repo = await mkdtemp(join(tmpdir(), 'ood-bundle-'));
  });
  after(async () => rm(repo, { recursive: true, force: true }));

  it('reads the highest numbered version folder (10 after 9), or the model\'s own folder without versions', async () => {
    await bundleAt(join(repo, 'versioned', '9'), ['old']);
    await bundleAt(join(repo, 'versioned', '10'), ['new']);
    await mkdir(join(repo, 'versioned', 'notes'));
    const found = await findBundle(repo, 'versioned');
    assert.equal(found.dir, join(repo, 'versioned', '10'));
    assert.equal(found.model, 'new');
    assert.equal(found.modelsDir, join(repo, 'versioned', '10', 'models'));
    assert.equal(found.referenceSetsDir, join(repo, 'versioned', '10', 'reference-sets'));
    await bundleAt(join(repo, 'flat'), ['only']);
    assert.equal((await findBundle(repo, 'flat')).dir, join(repo, 'flat'));
  });

  it('follows links to folders, as a repository may link a bundle\'s parts', async () => {
    await bundleAt(join(repo, 'source'), ['linked']);
    await mkdir(join(repo, 'links', '1'), { recursive: true });
    await symlink(join(repo, 'source', 'models'), join(repo, 'links', '1', 'models'));
    await symlink(join(repo, 'source', 'reference-sets'), join(repo, 'links', '1', 'reference-sets'));
    assert.equal((await findBundle(repo, 'links')).model, 'linked');
  });

  it('names the path it looked at for a missing model, a bundle with no model or two, and one without reference sets', async () => {
    await assert.rejects(findBundle(repo, 'absent'), failsWith('MODEL_NOT_FOUND', /absent.* is not a folder/));
    await bundleAt(join(repo, 'empty', '1'), []);
    await assert.rejects(findBundle(repo, 'empty'), failsWith('MODEL_INVALID', /empty\/1\/models must hold exactly one model folder .*found none/));
    await bundleAt(join(repo, 'two', '1'), ['a', 'b']);
    await assert.rejects(findBundle(repo, 'two'), failsWith('MODEL_INVALID', /found a, b/));
    await bundleAt(join(repo, 'bare', '1'), ['m'], false);
    await assert.rejects(findBundle(repo, 'bare'), failsWith('MODEL_INVALID', /bare\/1\/reference-sets is missing/));
  });

  it('refuses a name that could leave the repository', async () => {
    await assert.rejects(findBundle(repo, '../etc'), failsWith('BAD_REQUEST', /must match/));
    await assert.rejects(findBundle(repo, '.hidden'), failsWith('BAD_REQUEST', /must match/));
  });
});

describe('isLoopbackPeer: who counts as a caller on this host', () => {
  it('takes 127.0.0.1 and ::1 as grpc-js 1.14 writes them, mapped, bracketed, or with the family named first', () => {
    for (const peer of ['127.0.0.1:5000', '::1:5000', '::ffff:127.0.0.1:5000', '::FFFF:127.0.0.1:1', '[::1]:5000', 'ipv4:127.0.0.1:5000', 'ipv6:[::1]:5000']) assert.ok(isLoopbackPeer(peer), peer);
  });
  it("refuses every other address, Istio's sidecar source 127.0.0.6 among them", () => {
    for (const peer of ['127.0.0.6:5000', '127.8.9.10:1', '10.0.0.5:5000', 'fe80::1:5000', '::ffff:10.0.0.1:5000', '128.0.0.1:5000', '1127.0.0.1:5000', '::2:1', 'unix:/tmp/sock', '']) assert.ok(!isLoopbackPeer(peer), peer);
  });
});

describe('findBundle: a folder it cannot read', () => {
  it('says so, naming it and why, rather than calling the model absent', async () => {
    const repo = await mkdtemp(join(tmpdir(), 'ood-bundle-unreadable-'));
    try {
      // A loop of links: stat fails with ELOOP, as it would with EACCES for a user that is not root.
      await symlink(join(repo, 'other'), join(repo, 'looped'));
      await symlink(join(repo, 'looped'), join(repo, 'other'));
      await assert.rejects(findBundle(repo, 'looped'), failsWith('MODEL_INVALID', /looped cannot be read: ELOOP/));
    } finally {
      await rm(repo, { recursive: true, force: true });
    }
  });
});
