import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { OodError, type ErrorCode } from '../../src/errors.js';
export { npyBytes, npyHeader } from '../../src/reference/sources/npy-write.js';

/** An IDX file of unsigned bytes: magic 0x0000080N, one big-endian uint32 per dimension, payload. */
export function idxBytes(dims: readonly number[], payload: ArrayLike<number>): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE((0x08 << 8) | dims.length, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(Array.from(payload))]);
}

export const gzip = (bytes: Buffer): Buffer => gzipSync(bytes);

export async function makeTempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `ood-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Tiny 2x2 "images" in the Fashion-MNIST file layout: `rows` training and `testRows` test images. */
export async function writeIdxSet(
  dir: string,
  options: { rows: number; testRows: number; classes: number; seedPixel?: number },
): Promise<void> {
  const { rows, testRows, classes, seedPixel = 0 } = options;
  await mkdir(dir, { recursive: true });
  const pixels = (n: number) => Array.from({ length: n * 4 }, (_, i) => (i * 37 + seedPixel) % 256);
  const labels = (n: number) => Array.from({ length: n }, (_, i) => i % classes);
  await writeFile(join(dir, 'train-images-idx3-ubyte.gz'), gzip(idxBytes([rows, 2, 2], pixels(rows))));
  await writeFile(join(dir, 'train-labels-idx1-ubyte.gz'), gzip(idxBytes([rows], labels(rows))));
  await writeFile(join(dir, 't10k-images-idx3-ubyte.gz'), gzip(idxBytes([testRows, 2, 2], pixels(testRows))));
  await writeFile(join(dir, 't10k-labels-idx1-ubyte.gz'), gzip(idxBytes([testRows], labels(testRows))));
}

export function idxManifest(name: string, dir: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    description: 'test fixture',
    labels: ['a', 'b', 'c'],
    input_shape: [4],
    source: {
      kind: 'idx',
      dir,
      train_images: 'train-images-idx3-ubyte.gz',
      train_labels: 'train-labels-idx1-ubyte.gz',
      test_images: 't10k-images-idx3-ubyte.gz',
      test_labels: 't10k-labels-idx1-ubyte.gz',
    },
    split: { method: 'seeded-permutation', seed: 7, calibration: 3, train: 'rest', test: 'all' },
    ...overrides,
  };
}

export async function writeManifest(rootDir: string, manifest: Record<string, unknown>, folder?: string): Promise<string> {
  const dir = join(rootDir, folder ?? String(manifest.name));
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

/** Matches an OodError by code and, optionally, fragments its message must contain. */
export function oodError(code: ErrorCode, ...fragments: string[]): (err: unknown) => boolean {
  return (err: unknown) => {
    if (!(err instanceof OodError) || err.code !== code) {
      throw new Error(`expected OodError ${code}, got ${String(err)}`, { cause: err });
    }
    for (const fragment of fragments) {
      if (!err.message.includes(fragment)) {
        throw new Error(`message ${JSON.stringify(err.message)} lacks ${JSON.stringify(fragment)}`);
      }
    }
    return true;
  };
}

