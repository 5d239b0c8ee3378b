import { access, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { z } from 'zod';
import { OodError } from '../../errors.js';
import { allRows, SourceDigest, takeLabels, type SourceData, type SourcePool } from './labeled-data.js';
import { fileInDir } from './source-fields.js';
import type { SourceReader } from './source-reader.js';

const gunzipAsync = promisify(gunzip);

export const FASHION_MNIST_INSTALL_HINT =
  'Debian ships Fashion-MNIST as IDX files: `apt-get update && apt-get install -y dataset-fashion-mnist` ' +
  'installs them under /usr/share/datasets/fashion-mnist';

/** Debian's dataset-fashion-mnist installs its IDX files here. */
export const DEFAULT_IDX_DIR = '/usr/share/datasets/fashion-mnist';

export const IdxSourceSchema = z.strictObject({
  kind: z.literal('idx'),
  /** Absolute, or relative to the folder that holds the manifest. */
  dir: z.string().min(1).default(DEFAULT_IDX_DIR),
  train_images: fileInDir,
  train_labels: fileInDir,
  test_images: fileInDir,
  test_labels: fileInDir,
});
export type IdxSource = z.infer<typeof IdxSourceSchema>;

/** The MNIST-family layout: a train pair and a test pair of IDX files. */
export const idxReader: SourceReader<typeof IdxSourceSchema> = {
  kind: 'idx',
  schema: IdxSourceSchema,
  hasTestPool: () => true,
  read: (source, { manifestDir }) => readIdxSource({ ...source, dir: resolve(manifestDir, source.dir) }),
};

/** The only IDX element type the MNIST family uses. */
const IDX_UBYTE = 0x08;
const PIXEL_MAX = 255;

/** A decoded IDX array; `data` is a view into the decompressed file. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Where the four files of an idx source are, with `dir` already resolved. */
export interface IdxFiles {
  dir: string;
  train_images: string;
  train_labels: string;
  test_images: string;
  test_labels: string;
}

/**
 * Parses an uncompressed IDX buffer (big-endian header: 0, 0, type, ndims, then one uint32 per
 * dimension). The payload must be exactly as long as the dimensions say: a short file means a
 * truncated download and a long one a wrong file, and either would shift every later row.
 */
export function parseIdx(bytes: Uint8Array, file: string, expectedDims: number): IdxArray {
  const expectedMagic = (IDX_UBYTE << 8) | expectedDims;
  if (bytes.length < 4) {
    throw invalid(file, `is ${bytes.length} bytes long, too short for an IDX header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  if (magic !== expectedMagic) {
    throw invalid(file, `has magic number ${hex(magic)}, expected ${hex(expectedMagic)} (unsigned bytes, ${expectedDims} dimension(s))`);
  }
  const headerLength = 4 + 4 * expectedDims;
  if (bytes.length < headerLength) {
    throw invalid(file, `is truncated inside its header (${bytes.length} of ${headerLength} bytes)`);
  }
  const dims: number[] = [];
  for (let d = 0; d < expectedDims; d++) dims.push(view.getUint32(4 + 4 * d));
  const payloadLength = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerLength;
  if (actual < payloadLength) {
    throw invalid(file, `is truncated: dimensions [${dims.join(', ')}] need ${payloadLength} data bytes, found ${actual}`);
  }
  if (actual > payloadLength) {
    throw invalid(file, `has ${actual - payloadLength} bytes after the data that dimensions [${dims.join(', ')}] describe`);
  }
  return { dims, data: bytes.subarray(headerLength) };
}

/** Reads an IDX file, gzipped or not (gzip is recognised by its magic bytes, not the name). */
export async function readIdx(file: string, expectedDims: number, digest?: SourceDigest): Promise<IdxArray> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (err) {
    if (isNotFound(err)) throw new OodError('DATA_SOURCE_MISSING', `IDX file not found: ${file}`, { cause: err });
    throw invalid(file, `cannot be read: ${(err as Error).message}`, err);
  }
  digest?.add(file, raw);
  return parseIdx(await decompress(raw, file), file, expectedDims);
}

/** Reads an image file and its label file into a pool of Float32 rows scaled to [0,1]. */
export async function readIdxPool(imagesFile: string, labelsFile: string, digest?: SourceDigest): Promise<SourcePool> {
  // Sequential on purpose: the digest must see the files in a fixed order.
  const images = await readIdx(imagesFile, 3, digest);
  const labels = await readIdx(labelsFile, 1, digest);
  const [size, height, width] = images.dims;
  if (labels.dims[0] !== size) {
    throw invalid(labelsFile, `holds ${labels.dims[0]} labels but ${imagesFile} holds ${size} images`);
  }
  return idxPool(images.data, Int32Array.from(labels.data), size, height * width);
}

/** The train and test pools of an idx source. Every missing file is named in one error. */
export async function readIdxSource(files: IdxFiles): Promise<SourceData> {
  const paths = [files.train_images, files.train_labels, files.test_images, files.test_labels].map((name) =>
    join(files.dir, name),
  );
  const missing = (await Promise.all(paths.map(async (path) => ((await exists(path)) ? null : path)))).filter(
    (path): path is string => path !== null,
  );
  if (missing.length > 0) {
    throw new OodError('DATA_SOURCE_MISSING', `IDX source files not found: ${missing.join(', ')}. ${FASHION_MNIST_INSTALL_HINT}.`);
  }
  const digest = new SourceDigest();
  const pool = await readIdxPool(paths[0], paths[1], digest);
  const testPool = await readIdxPool(paths[2], paths[3], digest);
  if (testPool.cols !== pool.cols) {
    throw invalid(paths[2], `has ${testPool.cols} pixels per image but ${paths[0]} has ${pool.cols}`);
  }
  return { pool, testPool, digest: digest.hex() };
}

function idxPool(pixels: Uint8Array, labels: Int32Array, size: number, cols: number): SourcePool {
  return {
    size,
    cols,
    labels,
    take(indices = allRows(size)) {
      const out = new Float32Array(indices.length * cols);
      for (let r = 0; r < indices.length; r++) {
        const src = indices[r] * cols;
        const dst = r * cols;
        for (let c = 0; c < cols; c++) out[dst + c] = pixels[src + c] / PIXEL_MAX;
      }
      return { x: { data: out, rows: indices.length, cols }, labels: takeLabels(labels, indices) };
    },
  };
}

async function decompress(raw: Buffer, file: string): Promise<Uint8Array> {
  const isGzip = raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b;
  if (!isGzip) return raw;
  try {
    return await gunzipAsync(raw);
  } catch (err) {
    throw invalid(file, `is not a valid gzip stream (corrupt or truncated): ${(err as Error).message}`, err);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

function invalid(file: string, problem: string, cause?: unknown): OodError {
  return new OodError('DATA_INVALID', `${file} ${problem}`, cause === undefined ? undefined : { cause });
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
