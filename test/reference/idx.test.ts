import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseIdx, readIdx } from '../../src/reference/sources/idx.js';
import { readIdxPool } from '../../src/reference/sources/idx.js';
import { gzip, idxBytes, makeTempDir, oodError } from './fixtures.js';

describe('IDX parsing', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => {};
  before(async () => {
    ({ dir, cleanup } = await makeTempDir('idx'));
  });
  after(() => cleanup());

  const pixels = [0, 255, 51, 102, 10, 20, 30, 40, 1, 2, 3, 4];

  test('reads a gzipped image file and its labels, scaling 0..255 to [0,1]', async () => {
    const images = join(dir, 'good-images.gz');
    const labels = join(dir, 'good-labels.gz');
    await writeFile(images, gzip(idxBytes([3, 2, 2], pixels)));
    await writeFile(labels, gzip(idxBytes([3], [2, 0, 1])));

    const pool = await readIdxPool(images, labels);
    assert.equal(pool.size, 3);
    assert.equal(pool.cols, 4);
    assert.deepEqual(Array.from(pool.labels), [2, 0, 1]);

    const all = pool.take();
    assert.equal(all.x.rows, 3);
    assert.ok(all.x.data instanceof Float32Array);
    assert.deepEqual(Array.from(all.x.data), pixels.map((p) => Math.fround(p / 255)));

    const picked = pool.take([2, 0]);
    assert.deepEqual(Array.from(picked.labels), [1, 2]);
    assert.deepEqual(Array.from(picked.x.data.subarray(0, 4)), [1, 2, 3, 4].map((p) => Math.fround(p / 255)));
  });

  test('reads an uncompressed file as well', async () => {
    const file = join(dir, 'plain-labels');
    await writeFile(file, idxBytes([4], [9, 8, 7, 6]));
    const array = await readIdx(file, 1);
    assert.deepEqual(array.dims, [4]);
    assert.deepEqual(Array.from(array.data), [9, 8, 7, 6]);
  });

  test('rejects a bad magic number, naming the file', async () => {
    const file = join(dir, 'bad-magic.gz');
    const bytes = idxBytes([3, 2, 2], pixels);
    bytes.writeUInt32BE(0x12345678, 0);
    await writeFile(file, gzip(bytes));
    await assert.rejects(readIdx(file, 3), oodError('DATA_INVALID', file, 'magic number 0x12345678', '0x00000803'));
  });

  test('rejects a label file where an image file is expected', async () => {
    const file = join(dir, 'labels-as-images.gz');
    await writeFile(file, gzip(idxBytes([3], [0, 1, 2])));
    await assert.rejects(readIdx(file, 3), oodError('DATA_INVALID', file, '0x00000801'));
  });

  test('rejects a payload shorter than its dimensions', async () => {
    const file = join(dir, 'short-payload.gz');
    await writeFile(file, gzip(idxBytes([3, 2, 2], pixels).subarray(0, 16 + 10)));
    await assert.rejects(readIdx(file, 3), oodError('DATA_INVALID', file, 'truncated', 'need 12 data bytes, found 10'));
  });

  test('rejects a header cut short', () => {
    assert.throws(() => parseIdx(idxBytes([3, 2, 2], pixels).subarray(0, 9), 'cut', 3), oodError('DATA_INVALID', 'cut', 'header'));
    assert.throws(() => parseIdx(Buffer.from([0, 0]), 'tiny', 1), oodError('DATA_INVALID', 'tiny', 'too short'));
  });

  test('rejects bytes past the end of the data', () => {
    const bytes = Buffer.concat([idxBytes([2], [1, 2]), Buffer.from([0])]);
    assert.throws(() => parseIdx(bytes, 'long', 1), oodError('DATA_INVALID', 'long', '1 bytes after the data'));
  });

  test('rejects a truncated gzip stream, naming the file', async () => {
    const file = join(dir, 'truncated.gz');
    const gz = gzip(idxBytes([3, 2, 2], pixels));
    await writeFile(file, gz.subarray(0, gz.length - 12));
    await assert.rejects(readIdx(file, 3), oodError('DATA_INVALID', file, 'gzip'));
  });

  test('rejects label and image files of different lengths', async () => {
    const images = join(dir, 'mismatch-images.gz');
    const labels = join(dir, 'mismatch-labels.gz');
    await writeFile(images, gzip(idxBytes([3, 2, 2], pixels)));
    await writeFile(labels, gzip(idxBytes([2], [0, 1])));
    await assert.rejects(readIdxPool(images, labels), oodError('DATA_INVALID', labels, '2 labels', '3 images'));
  });

  test('a missing file is DATA_SOURCE_MISSING', async () => {
    const file = join(dir, 'nope.gz');
    await assert.rejects(readIdx(file, 1), oodError('DATA_SOURCE_MISSING', file));
  });
});
