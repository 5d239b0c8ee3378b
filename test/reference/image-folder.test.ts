import assert from 'node:assert/strict';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { decodeImage, ImagePreprocessingSchema, preprocessedShape, type ImagePreprocessing } from '../../src/model/image-input.js';
import { loadManifest } from '../../src/reference/manifest.js';
import { loadReferenceSet, loadSource } from '../../src/reference/load-reference-set.js';
import { makeTempDir, oodError, writeManifest } from './fixtures.js';

/** 3x2 RGB pixels, row by row. */
const RGB = [10, 20, 30, 200, 100, 50, 0, 0, 0, 255, 255, 255, 128, 64, 32, 7, 8, 9];

const rgbPng = (pixels: number[], width: number, height: number) =>
  sharp(Buffer.from(pixels), { raw: { width, height, channels: 3 } }).png().toBuffer();
/** A true one-channel PNG (sharp would otherwise write grey as RGB). */
const greyPng = (pixels: number[], width: number, height: number) =>
  sharp(Buffer.from(pixels), { raw: { width, height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
const prep = (p: Partial<ImagePreprocessing> & Pick<ImagePreprocessing, 'width' | 'height' | 'channels'>) =>
  ImagePreprocessingSchema.parse({ layout: 'nchw', ...p });
const f32 = (values: number[]) => values.map((v) => Math.fround(v));

describe('decodeImage', () => {
  test('RGB PNG, nchw: channel planes, (pixel * scale - mean[c]) / std[c]', async () => {
    const mean = [0.5, 0.25, 0];
    const std = [0.5, 0.25, 2];
    const values = await decodeImage(await rgbPng(RGB, 3, 2), prep({ width: 3, height: 2, channels: 3, mean, std }));
    const expected: number[] = [];
    for (let c = 0; c < 3; c++) for (let i = 0; i < 6; i++) expected.push((RGB[i * 3 + c] * (1 / 255) - mean[c]) / std[c]);
    assert.deepEqual(Array.from(values), f32(expected));
  });

  test('RGB PNG, nhwc: interleaved, default scale 1/255, mean 0, std 1', async () => {
    const values = await decodeImage(await rgbPng(RGB, 3, 2), prep({ width: 3, height: 2, channels: 3, layout: 'nhwc' }));
    assert.deepEqual(Array.from(values), f32(RGB.map((v) => v * (1 / 255))));
  });

  test('grey PNG to one channel, and to three identical channels', async () => {
    const grey = [0, 50, 100, 150, 200, 255];
    const png = await greyPng(grey, 3, 2);
    assert.equal((await sharp(png).metadata()).channels, 1);
    const one = await decodeImage(png, prep({ width: 3, height: 2, channels: 1, scale: 1, mean: [10], std: [2] }));
    assert.deepEqual(Array.from(one), grey.map((v) => (v - 10) / 2));
    const three = await decodeImage(png, prep({ width: 3, height: 2, channels: 3, scale: 1, layout: 'nhwc' }));
    assert.deepEqual(Array.from(three), grey.flatMap((v) => [v, v, v]));
  });

  test('RGB to one channel is greyscale; grey pixels keep their value', async () => {
    const png = await rgbPng([0, 0, 0, 255, 255, 255, 90, 90, 90, 200, 30, 30], 2, 2);
    const values = Array.from(await decodeImage(png, prep({ width: 2, height: 2, channels: 1, scale: 1 })));
    assert.deepEqual(values.slice(0, 3), [0, 255, 90]);
    assert.ok(values[3] > 30 && values[3] < 200, `a red pixel is a mid grey, got ${values[3]}`);
  });

  test('alpha is dropped, keeping the stored colour', async () => {
    const rgba = Buffer.from([10, 20, 30, 0, 200, 100, 50, 255]);
    const png = await sharp(rgba, { raw: { width: 2, height: 1, channels: 4 } }).png().toBuffer();
    const values = await decodeImage(png, prep({ width: 2, height: 1, channels: 3, scale: 1, layout: 'nhwc' }));
    assert.deepEqual(Array.from(values), [10, 20, 30, 200, 100, 50]);
  });

  test('resizes to width x height, ignoring the aspect ratio', async () => {
    const solid = Array.from({ length: 6 * 4 }, () => [40, 80, 120]).flat();
    const values = await decodeImage(await rgbPng(solid, 6, 4), prep({ width: 2, height: 3, channels: 3, scale: 1, layout: 'nhwc' }));
    assert.deepEqual(Array.from(values), Array.from({ length: 6 }, () => [40, 80, 120]).flat());
  });

  test('a JPEG decodes to the requested size with about its colour', async () => {
    const solid = Array.from({ length: 40 * 30 }, () => [200, 100, 50]).flat();
    const jpeg = await sharp(Buffer.from(solid), { raw: { width: 40, height: 30, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
    const values = await decodeImage(jpeg, prep({ width: 8, height: 6, channels: 3, scale: 1 }));
    assert.equal(values.length, 3 * 6 * 8);
    const plane = 6 * 8;
    for (const [c, expected] of [200, 100, 50].entries()) {
      for (let i = 0; i < plane; i++) assert.ok(Math.abs(values[c * plane + i] - expected) <= 3, `channel ${c}: ${values[c * plane + i]}`);
    }
  });

  test('refuses garbage, other formats and truncated files', async () => {
    const p = prep({ width: 2, height: 2, channels: 1 });
    await assert.rejects(decodeImage(Buffer.from('definitely not an image'), p), /not a PNG or JPEG/);
    const gif = await sharp(Buffer.from(RGB), { raw: { width: 3, height: 2, channels: 3 } }).gif().toBuffer();
    await assert.rejects(decodeImage(gif, p), /not a PNG or JPEG/);
    const png = await rgbPng(RGB, 3, 2);
    await assert.rejects(decodeImage(png.subarray(0, png.length - 20), p), /cannot decode PNG/);
  });

  test('preprocessing: defaults, mean/std lengths, shapes', () => {
    const p = prep({ width: 4, height: 3, channels: 3 });
    assert.equal(p.scale, 1 / 255);
    assert.deepEqual(p.mean, [0]);
    assert.deepEqual(p.std, [1]);
    assert.deepEqual(preprocessedShape(p), [3, 3, 4]);
    assert.deepEqual(preprocessedShape({ ...p, layout: 'nhwc' }), [3, 4, 3]);
    const bad = ImagePreprocessingSchema.safeParse({ width: 4, height: 3, channels: 3, layout: 'nchw', mean: [0.1, 0.2] });
    assert.equal(bad.success, false);
    assert.deepEqual(bad.error?.issues.map((i) => i.path), [['mean']]);
    assert.equal(ImagePreprocessingSchema.safeParse({ width: 4, height: 3, channels: 2, layout: 'nchw' }).success, false);
  });
});

describe('image-folder source', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => {};
  before(async () => {
    ({ dir, cleanup } = await makeTempDir('image-folder'));
  });
  after(() => cleanup());

  const CLASSES = ['cat', 'dog', 'eel'];
  /** A 2x2 grey image whose pixels are v, v+1, v+2, v+3. */
  const tile = (v: number) => greyPng([v, v + 1, v + 2, v + 3], 2, 2);
  const manifest = (name: string, source: Record<string, unknown>) => ({
    name,
    description: 'image-folder fixture',
    labels: CLASSES,
    input_shape: [1, 2, 2],
    source: { kind: 'image-folder', preprocessing: { width: 2, height: 2, channels: 1, layout: 'nchw', scale: 1 }, ...source },
    split: { method: 'seeded-permutation', seed: 9, calibration: 2, train: 'rest', test: 'test_dir' in source ? 'all' : 1 },
  });

  async function writeImages(root: string, files: Record<string, Buffer | string>): Promise<void> {
    for (const [path, bytes] of Object.entries(files)) {
      await mkdir(join(root, path, '..'), { recursive: true });
      await writeFile(join(root, path), bytes);
    }
  }

  test('reads class folders in class then file-name order, through loadReferenceSet', async () => {
    const root = join(dir, 'sets');
    const setDir = await writeManifest(root, manifest('pets', { dir: 'train', test_dir: 'test' }));
    await writeImages(join(setDir, 'train'), {
      'README.txt': 'not an image',
      'eel/b.PNG': await tile(100),
      'eel/a.png': await tile(90),
      'cat/z.jpg': await sharp(await tile(0)).jpeg({ quality: 100 }).toBuffer(),
      'cat/m.png': await tile(10),
      'cat/notes.txt': 'ignored',
      'cat/.hidden.png': 'ignored, hidden',
    });
    await writeImages(join(setDir, 'test'), { 'dog/t.jpeg': await sharp(await tile(50)).jpeg({ quality: 100 }).toBuffer() });

    const source = await loadSource(await loadManifest(setDir), setDir);
    assert.deepEqual(Array.from(source.pool.labels), [0, 0, 2, 2]);
    const all = Array.from(source.pool.take().x.data);
    assert.deepEqual(all.slice(0, 4), [10, 11, 12, 13]); // cat/m.png before cat/z.jpg
    assert.deepEqual(all.slice(8), [90, 91, 92, 93, 100, 101, 102, 103]); // eel/a.png, eel/b.PNG
    for (const [i, v] of all.slice(4, 8).entries()) assert.ok(Math.abs(v - i) <= 2, `jpeg pixel ${v}`);

    const set = await loadReferenceSet(root, 'pets');
    assert.equal(set.train.x.rows + set.calibration.x.rows, 4);
    assert.equal(set.calibration.x.rows, 2);
    assert.equal(set.test.x.rows, 1);
    assert.deepEqual(Array.from(set.test.labels), [1]);

    // A renamed class folder is a relabelled image, so it changes the fingerprint.
    const before = set.fingerprint;
    await rename(join(setDir, 'test', 'dog'), join(setDir, 'test', 'cat'));
    const renamed = await loadReferenceSet(root, 'pets');
    assert.deepEqual(Array.from(renamed.test.labels), [0]);
    assert.notEqual(renamed.fingerprint, before);
  });

  test('a folder that is not a class is refused, listing the classes', async () => {
    const root = join(dir, 'sets');
    const setDir = await writeManifest(root, manifest('cows', { dir: 'train' }));
    await writeImages(join(setDir, 'train'), { 'cat/a.png': await tile(1), 'cow/a.png': await tile(2) });
    await assert.rejects(loadReferenceSet(root, 'cows'), oodError('DATA_INVALID', join(setDir, 'train', 'cow'), '"cat", "dog", "eel"'));
  });

  test('an undecodable image is DATA_INVALID naming the file', async () => {
    const root = join(dir, 'sets');
    const setDir = await writeManifest(root, manifest('broken', { dir: 'train' }));
    await writeImages(join(setDir, 'train'), { 'cat/a.png': await tile(1), 'dog/bad.png': 'not a png at all' });
    await assert.rejects(loadReferenceSet(root, 'broken'), oodError('DATA_INVALID', join(setDir, 'train', 'dog', 'bad.png'), 'PNG or JPEG'));
  });

  test('a missing folder, an empty folder and a shape mismatch', async () => {
    const root = join(dir, 'sets');
    await writeManifest(root, manifest('absent', { dir: 'nowhere' }));
    await assert.rejects(loadReferenceSet(root, 'absent'), oodError('DATA_SOURCE_MISSING', 'nowhere'));

    const emptyDir = await writeManifest(root, manifest('empty', { dir: 'train' }));
    await mkdir(join(emptyDir, 'train', 'cat'), { recursive: true });
    await assert.rejects(loadReferenceSet(root, 'empty'), oodError('DATA_INVALID', join(emptyDir, 'train'), 'no .png/.jpg/.jpeg'));

    await writeManifest(root, { ...manifest('shape', { dir: 'train' }), input_shape: [5] });
    await assert.rejects(loadReferenceSet(root, 'shape'), oodError('CONFIG_INVALID', 'preprocessing', '[1, 2, 2]', 'input_shape [5]'));
  });
});
