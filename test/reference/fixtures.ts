import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { OodError, type ErrorCode } from '../../src/errors.js';

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

/**
 * A .npy file as NumPy writes it: magic, version, header length (uint16 for 1.0, uint32 for 2.0
 * and 3.0), a dict header padded with spaces and a newline to a multiple of 64 bytes, payload.
 * `values` are numbers (bigints for 8-byte integers) or strings for `<U{n}`.
 */
export function npyBytes(
  dtype: string,
  shape: readonly number[],
  values: ArrayLike<number | bigint | string>,
  options: { version?: 1 | 2 | 3; fortranOrder?: boolean } = {},
): Buffer {
  const { version = 1, fortranOrder = false } = options;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${dtype}', 'fortran_order': ${fortranOrder ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  return Buffer.concat([npyHeader(dict, version), npyPayload(dtype, values)]);
}

/** The .npy preamble for a header dict written verbatim, for headers npyBytes cannot produce. */
export function npyHeader(dict: string, version: 1 | 2 | 3 = 1): Buffer {
  const prefix = version === 1 ? 10 : 12;
  const padded = dict.padEnd(Math.ceil((prefix + dict.length + 1) / 64) * 64 - prefix - 1, ' ') + '\n';
  const head = Buffer.alloc(prefix);
  Buffer.from([0x93, ...Buffer.from('NUMPY'), version, 0]).copy(head);
  if (version === 1) head.writeUInt16LE(padded.length, 8);
  else head.writeUInt32LE(padded.length, 8);
  return Buffer.concat([head, Buffer.from(padded, 'latin1')]);
}

function npyPayload(dtype: string, values: ArrayLike<number | bigint | string>): Buffer {
  const list = Array.from(values);
  const unicode = /^[<>|]U(\d+)$/.exec(dtype);
  if (unicode) {
    const width = Number(unicode[1]);
    const out = Buffer.alloc(list.length * width * 4);
    list.forEach((s, i) => [...String(s)].forEach((ch, c) => out.writeUInt32LE(ch.codePointAt(0) ?? 0, (i * width + c) * 4)));
    return out;
  }
  const writers: Record<string, [number, (b: Buffer, v: number | bigint, at: number) => void]> = {
    f4: [4, (b, v, at) => b.writeFloatLE(Number(v), at)],
    f8: [8, (b, v, at) => b.writeDoubleLE(Number(v), at)],
    u1: [1, (b, v, at) => b.writeUInt8(Number(v), at)],
    b1: [1, (b, v, at) => b.writeUInt8(Number(v), at)],
    i1: [1, (b, v, at) => b.writeInt8(Number(v), at)],
    i2: [2, (b, v, at) => b.writeInt16LE(Number(v), at)],
    u2: [2, (b, v, at) => b.writeUInt16LE(Number(v), at)],
    i4: [4, (b, v, at) => b.writeInt32LE(Number(v), at)],
    u4: [4, (b, v, at) => b.writeUInt32LE(Number(v), at)],
    i8: [8, (b, v, at) => b.writeBigInt64LE(BigInt(v), at)],
    u8: [8, (b, v, at) => b.writeBigUInt64LE(BigInt(v), at)],
  };
  const writer = writers[dtype.slice(1)];
  if (!writer) throw new Error(`npyBytes: no writer for ${dtype}`);
  const [size, write] = writer;
  const out = Buffer.alloc(list.length * size);
  list.forEach((v, i) => write(out, v as number | bigint, i * size));
  return out;
}
