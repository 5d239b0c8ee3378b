import { open, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { OodError } from '../../errors.js';
import { selectRows } from '../../math/matrix.js';
import { allRows, SourceDigest, takeLabels, type SourceData, type SourcePool } from './labeled-data.js';
import { dataPath } from './source-fields.js';
import type { SourceContext, SourceReader } from './source-reader.js';

/**
 * One file per input of a model with several, in the model's input order: each row of the data
 * is every file's row in turn (the packed row of model/model-inputs.ts).
 */
const PerInputFiles = z
  .array(z.strictObject({ input: z.string().min(1), file: dataPath }))
  .min(1)
  .refine((files) => new Set(files.map((f) => f.input)).size === files.length, 'names an input twice');
const DataFiles = z.union([dataPath, PerInputFiles]);
export type NpyDataFiles = z.infer<typeof DataFiles>;

export const NpySourceSchema = z
  .strictObject({
    kind: z.literal('npy'),
    /** Rows of any shape [N, ...], fed to the model as they are (no scaling); or one file per input. */
    data: DataFiles,
    /** N class indices, whole-number floats, or class names. */
    labels: dataPath,
    test_data: DataFiles.optional(),
    test_labels: dataPath.optional(),
  })
  .refine((s) => (s.test_data === undefined) === (s.test_labels === undefined), {
    message: 'test_data and test_labels go together: give both or neither',
    path: ['test_labels'],
  });
export type NpySource = z.infer<typeof NpySourceSchema>;

/** NumPy .npy files: a data array and a label array, and optionally a test pair. */
export const npyReader: SourceReader<typeof NpySourceSchema> = {
  kind: 'npy',
  schema: NpySourceSchema,
  hasTestPool: (source) => Boolean(source.test_data),
  read: (source, context) => readNpySource(source, context),
};

export type NpyValues =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | string[];

/** A parsed .npy array: its values in C order, as views into the file's bytes where alignment allows. */
export interface NpyArray {
  /** As the header spells it, e.g. "<f4", "|u1", "<U5". */
  dtype: string;
  shape: number[];
  values: NpyValues;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
/** Typed-array views below read the host's byte order, and the files we accept are little-endian. */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const SUPPORTED = '<f4, <f8, |u1, |i1, <i2, <u2, <i4, <u4, <i8, <u8, |b1, <U{n}';

type TypedCtor = { new (buffer: ArrayBuffer, offset: number, length: number): Exclude<NpyValues, string[]>; BYTES_PER_ELEMENT: number };
const NUMERIC: Record<string, TypedCtor> = {
  f4: Float32Array,
  f8: Float64Array,
  u1: Uint8Array,
  i1: Int8Array,
  b1: Uint8Array,
  i2: Int16Array,
  u2: Uint16Array,
  i4: Int32Array,
  u4: Uint32Array,
  i8: BigInt64Array,
  u8: BigUint64Array,
};

/**
 * Parses a .npy file (format 1.0, 2.0 or 3.0). The payload must be exactly as long as shape and
 * dtype say: a short file is a truncated copy and a long one a wrong file.
 */
export function parseNpy(bytes: Uint8Array, file: string): NpyArray {
  const { descr, fortranOrder, shape, payloadStart } = headerOf(bytes, file);
  if (fortranOrder) {
    throw invalid(file, 'is stored in Fortran (column-major) order; save it with np.ascontiguousarray(a) or fortran_order=False');
  }
  const { kind, itemSize } = parseDescr(descr, file);
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = count * itemSize;
  const actual = bytes.length - payloadStart;
  if (actual < expected) {
    throw invalid(file, `is truncated: shape [${shape.join(', ')}] of ${descr} needs ${expected} data bytes, found ${actual}`);
  }
  if (actual > expected) {
    throw invalid(file, `has ${actual - expected} bytes after the data that shape [${shape.join(', ')}] of ${descr} describes`);
  }
  const payload = bytes.subarray(payloadStart);
  const values = kind === 'U' ? decodeUnicode(payload, count, itemSize / 4, file) : numericView(payload, NUMERIC[kind], count);
  return { dtype: descr, shape, values };
}

/** The header of a .npy file's first bytes, and where its payload starts. */
function headerOf(bytes: Uint8Array, file: string): NpyHeader & { payloadStart: number } {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw invalid(file, 'is not a .npy file (it does not start with the magic "\\x93NUMPY")');
  }
  const major = bytes[6];
  if (major < 1 || major > 3) throw invalid(file, `has .npy format version ${major}.${bytes[7]}; versions 1.0, 2.0 and 3.0 are supported`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) throw invalid(file, 'is truncated inside its header');
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lengthBytes;
  const payloadStart = start + headerLength;
  if (bytes.length < payloadStart) throw invalid(file, `is truncated inside its header (${bytes.length} of ${payloadStart} bytes)`);
  // Versions 1 and 2 write the header in latin1; 3 allows UTF-8 (for field names).
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, payloadStart));
  return { ...parseHeader(header, file), payloadStart };
}

/** Headers this long are far beyond any NumPy writes (a few hundred bytes for any shape). */
const MAX_HEADER_BYTES = 1 << 16;

/**
 * A .npy file's dtype and shape from its header alone, without reading its data: what describing
 * a model from files of activations needs. The data are checked when they are read.
 */
export async function readNpyShape(file: string): Promise<{ dtype: string; shape: number[] }> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new OodError('DATA_SOURCE_MISSING', `.npy file not found: ${file}`, { cause: err });
    throw invalid(file, `cannot be read: ${(err as Error).message}`, err);
  }
  let head: Buffer;
  try {
    const buffer = Buffer.alloc(MAX_HEADER_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    head = buffer.subarray(0, bytesRead);
  } catch (err) {
    throw invalid(file, `cannot be read: ${(err as Error).message}`, err);
  } finally {
    await handle.close();
  }
  // A header that does not fit is not a short file: say so rather than "truncated".
  const major = head[6];
  const declared = head.length >= 12 ? (major === 1 ? head.readUInt16LE(8) : head.readUInt32LE(8)) : 0;
  if (head.length === MAX_HEADER_BYTES && declared + 12 > MAX_HEADER_BYTES) {
    throw invalid(file, `has a header of ${declared} bytes; NumPy writes headers of a few hundred`);
  }
  const { descr, shape } = headerOf(head, file);
  parseDescr(descr, file);
  return { dtype: descr, shape };
}

/** Data rows as Float32, flattened in C order, values as stored: the model sees exactly what the array holds. */
export function npyRows(array: NpyArray, file: string): { data: Float32Array; rows: number; cols: number } {
  const { values, shape, dtype } = array;
  if (Array.isArray(values)) throw invalid(file, `holds strings (${dtype}); data must be numbers`);
  if (shape.length === 0) throw invalid(file, 'holds a single scalar; data must be an array of rows [N, ...]');
  const rows = shape[0];
  const cols = shape.slice(1).reduce((a, b) => a * b, 1);
  let data: Float32Array;
  if (values instanceof Float32Array) data = values;
  else if (values instanceof BigInt64Array || values instanceof BigUint64Array) {
    data = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) data[i] = Number(values[i]);
  } else data = new Float32Array(values); // native conversion, one pass
  const bad = values instanceof Float32Array || values instanceof Float64Array ? firstNonFinite(data) : -1;
  if (bad >= 0) {
    const original = values[bad] as number;
    const why = Number.isFinite(original) ? ` (${original} is beyond float32 range)` : '';
    throw invalid(file, `row ${Math.floor(bad / cols)} holds ${original}${why}; the model needs finite numbers`);
  }
  return { data, rows, cols };
}

/**
 * Class indices from a label array of shape [N] or [N, 1]: integers as they are, floats when they
 * are whole, strings through `classes` (the manifest's labels).
 */
export function npyLabels(array: NpyArray, file: string, classes: readonly string[]): Int32Array {
  const { values, shape, dtype } = array;
  if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
    throw invalid(file, `has shape [${shape.join(', ')}]; labels must be 1-D [N] or [N, 1]`);
  }
  const out = new Int32Array(shape[0]);
  const known = `known classes: ${classes.map((c) => JSON.stringify(c)).join(', ')}`;
  if (Array.isArray(values)) {
    const byName = new Map(classes.map((name, index) => [name, index]));
    values.forEach((name, row) => {
      const index = byName.get(name);
      if (index === undefined) throw invalid(file, `row ${row} has label ${JSON.stringify(name)}, which is not a class; ${known}`);
      out[row] = index;
    });
    return out;
  }
  for (let row = 0; row < out.length; row++) {
    const value = Number(values[row]);
    if (!Number.isInteger(value)) throw invalid(file, `row ${row} has label ${value} (${dtype}), which is not a whole number`);
    if (value < 0 || value >= classes.length) {
      throw invalid(file, `row ${row} has label ${value}, outside the ${classes.length} classes (0..${classes.length - 1}); ${known}`);
    }
    out[row] = value;
  }
  return out;
}

/**
 * Index of the first NaN or ±Infinity, or -1. Testing the exponent bits (all ones for exactly
 * those values) runs at memory speed; float comparisons were several times slower on 47M values.
 */
function firstNonFinite(data: Float32Array): number {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i] & 0x7f800000) === 0x7f800000) return i;
  }
  return -1;
}

async function readNpySource(source: NpySource, context: SourceContext): Promise<SourceData> {
  const at = (p: string) => resolve(context.manifestDir, p);
  const digest = new SourceDigest();
  // Sequential on purpose: the digest must see the files in a fixed order.
  const pool = await readNpyPool(resolveFiles(source.data, at), at(source.labels), context.labels, digest);
  let testPool: SourcePool | null = null;
  if (source.test_data !== undefined && source.test_labels !== undefined) {
    testPool = await readNpyPool(resolveFiles(source.test_data, at), at(source.test_labels), context.labels, digest);
    if (testPool.cols !== pool.cols) {
      throw invalid(describeFiles(resolveFiles(source.test_data, at)), `has ${testPool.cols} values per row but ${describeFiles(resolveFiles(source.data, at))} has ${pool.cols}`);
    }
  }
  return { pool, testPool, digest: digest.hex() };
}

/** The inputs a source with one file per input packs its rows from, in order; undefined for one file. */
export function perInputNames(source: { kind: string; data?: unknown }): string[] | undefined {
  return source.kind === 'npy' && Array.isArray(source.data) ? (source.data as { input: string }[]).map((f) => f.input) : undefined;
}

const resolveFiles = (files: NpyDataFiles, at: (p: string) => string): NpyDataFiles =>
  typeof files === 'string' ? at(files) : files.map((f) => ({ input: f.input, file: at(f.file) }));

const describeFiles = (files: NpyDataFiles): string => (typeof files === 'string' ? files : files.map((f) => `${f.input}=${f.file}`).join(','));

/** A data file (or one per input) and its label file as one pool. */
export async function readNpyPool(
  dataFiles: NpyDataFiles,
  labelsFile: string,
  classes: readonly string[],
  digest?: SourceDigest,
): Promise<SourcePool> {
  const { data, rows, cols } = typeof dataFiles === 'string' ? await readNpyData(dataFiles, digest) : await readPerInput(dataFiles, digest);
  const labels = npyLabels(parseNpy(await readNpyFile(labelsFile, digest), labelsFile), labelsFile, classes);
  if (labels.length !== rows) {
    throw invalid(labelsFile, `holds ${labels.length} labels but ${describeFiles(dataFiles)} holds ${rows} rows`);
  }
  const x = { data, rows, cols };
  return {
    size: rows,
    cols,
    labels,
    take: (indices = allRows(rows)) => ({ x: selectRows(x, indices), labels: takeLabels(labels, indices) }),
  };
}

async function readNpyData(file: string, digest?: SourceDigest): Promise<{ data: Float32Array; rows: number; cols: number }> {
  return npyRows(parseNpy(await readNpyFile(file, digest), file), file);
}

/** Every input's file, side by side: row r is each file's row r in turn. */
async function readPerInput(files: readonly { input: string; file: string }[], digest?: SourceDigest): Promise<{ data: Float32Array; rows: number; cols: number }> {
  const parts: { data: Float32Array; rows: number; cols: number }[] = [];
  for (const { file } of files) {
    const part = await readNpyData(file, digest);
    if (parts.length > 0 && part.rows !== parts[0].rows) {
      throw invalid(file, `holds ${part.rows} rows but ${files[0].file} holds ${parts[0].rows}: every input's file holds the same rows`);
    }
    parts.push(part);
  }
  const rows = parts[0].rows;
  const cols = parts.reduce((sum, p) => sum + p.cols, 0);
  const data = new Float32Array(rows * cols);
  let offset = 0;
  for (const part of parts) {
    for (let r = 0; r < rows; r++) data.set(part.data.subarray(r * part.cols, (r + 1) * part.cols), r * cols + offset);
    offset += part.cols;
  }
  return { data, rows, cols };
}

async function readNpyFile(file: string, digest?: SourceDigest): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new OodError('DATA_SOURCE_MISSING', `.npy file not found: ${file}`, { cause: err });
    }
    throw invalid(file, `cannot be read: ${(err as Error).message}`, err);
  }
  digest?.add(file, bytes);
  return bytes;
}

interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

/** The header is a Python dict literal; NumPy writes exactly these three keys. */
function parseHeader(header: string, file: string): NpyHeader {
  const text = header.trim();
  const bad = (what: string) => invalid(file, `has a malformed .npy header (${what}): ${JSON.stringify(text.slice(0, 200))}`);
  if (!text.startsWith('{') || !text.endsWith('}')) throw bad('not a dict');
  const descrList = /['"]descr['"]\s*:\s*\[/.exec(text);
  if (descrList) throw invalid(file, 'holds a structured (record) array; save one plain numeric or string array per file');
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined) throw bad('no descr');
  if (fortran === undefined) throw bad('no fortran_order');
  if (shapeText === undefined) throw bad('no shape');
  const parts = shapeText.split(',').map((p) => p.trim());
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop(); // "(3,)"
  if (parts.some((p) => !/^\d+L?$/.test(p))) throw bad('shape is not a tuple of sizes');
  const shape = parts.map((p) => Number.parseInt(p, 10));
  if (shape.some((d) => !Number.isSafeInteger(d))) throw bad('shape is too large');
  return { descr, fortranOrder: fortran === 'True', shape };
}

function parseDescr(descr: string, file: string): { kind: string; itemSize: number } {
  const unsupported = (why: string) => invalid(file, `has dtype ${descr}, ${why}; supported: ${SUPPORTED}`);
  const match = /^([<>|=])([a-zA-Z])(\d*)$/.exec(descr);
  if (match?.[2] === 'O') throw unsupported('an object array (pickled Python objects) that cannot be read safely');
  if (!match || match[3] === '') throw unsupported('which is not supported');
  const [, order, letter, digits] = match;
  const size = Number(digits);
  const kind = letter === 'U' ? 'U' : `${letter}${size}`;
  const itemSize = letter === 'U' ? size * 4 : size;
  if (kind !== 'U' && !(kind in NUMERIC)) throw unsupported('which is not supported');
  if (itemSize === 0) throw unsupported('a zero-width string');
  if (order === '>' && itemSize > 1) throw unsupported('which is big-endian; convert with a.astype(a.dtype.newbyteorder("<"))');
  if (itemSize > 1 && order !== '<' && kind !== 'U') throw unsupported('whose byte order is not little-endian "<"');
  if (kind !== 'U' && size > 1 && !LITTLE_ENDIAN_HOST) throw invalid(file, 'cannot be read on a big-endian CPU');
  return { kind, itemSize };
}

/** A view when the payload is aligned for the element type (the usual case), else one aligned copy. */
function numericView(payload: Uint8Array, Ctor: TypedCtor, count: number): Exclude<NpyValues, string[]> {
  // new Uint8Array(payload) copies; Buffer#slice would not.
  const aligned = payload.byteOffset % Ctor.BYTES_PER_ELEMENT === 0 ? payload : new Uint8Array(payload);
  return new Ctor(aligned.buffer as ArrayBuffer, aligned.byteOffset, count);
}

/** Fixed-width UTF-32LE strings; NumPy pads short ones with NULs, which are not part of the value. */
function decodeUnicode(payload: Uint8Array, count: number, width: number, file: string): string[] {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const out: string[] = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    const base = i * width * 4;
    let end = width;
    while (end > 0 && view.getUint32(base + (end - 1) * 4, true) === 0) end--;
    const points: number[] = [];
    for (let c = 0; c < end; c++) {
      const point = view.getUint32(base + c * 4, true);
      if (point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff)) {
        throw invalid(file, `row ${i} holds an invalid Unicode code point 0x${point.toString(16)}`);
      }
      points.push(point);
    }
    out[i] = String.fromCodePoint(...points);
  }
  return out;
}

function invalid(file: string, problem: string, cause?: unknown): OodError {
  return new OodError('DATA_INVALID', `${file} ${problem}`, cause === undefined ? undefined : { cause });
}
