import type { ModelInfo, TextCodec } from '../../detector/types.js';
import { OodError } from '../../errors.js';
import { describeValue, elementProblem, inputLayout, inputWidth, type InputDtype, type ModelInput } from '../../model/model-inputs.js';
import { clientName, clientNames, nameMismatch } from '../client-names.js';
import { copyNested, type ElementRule } from '../nested-values.js';
import { batchTooLarge, type DecodedBatch } from '../plugins/scoring.js';

interface NumericType {
  bytes: number;
  /** Integer types: the range a value must lie in. */
  range?: [number, number];
  /** Reads one little-endian element, as the binary tensor extension lays them out. */
  read(view: DataView, offset: number): number;
}

/**
 * The numeric data types of the Open Inference Protocol. Any may carry any input: each value is
 * checked against the wire type and then against the input's own element type.
 */
export const NUMERIC_TYPES: Record<string, NumericType> = {
  FP16: { bytes: 2, read: (v, o) => float16(v.getUint16(o, true)) },
  FP32: { bytes: 4, read: (v, o) => v.getFloat32(o, true) },
  FP64: { bytes: 8, read: (v, o) => v.getFloat64(o, true) },
  UINT8: { bytes: 1, range: [0, 255], read: (v, o) => v.getUint8(o) },
  UINT16: { bytes: 2, range: [0, 65_535], read: (v, o) => v.getUint16(o, true) },
  UINT32: { bytes: 4, range: [0, 4_294_967_295], read: (v, o) => v.getUint32(o, true) },
  UINT64: { bytes: 8, range: [0, Number.MAX_SAFE_INTEGER], read: (v, o) => Number(v.getBigUint64(o, true)) },
  INT8: { bytes: 1, range: [-128, 127], read: (v, o) => v.getInt8(o) },
  INT16: { bytes: 2, range: [-32_768, 32_767], read: (v, o) => v.getInt16(o, true) },
  INT32: { bytes: 4, range: [-2_147_483_648, 2_147_483_647], read: (v, o) => v.getInt32(o, true) },
  INT64: { bytes: 8, range: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER], read: (v, o) => Number(v.getBigInt64(o, true)) },
  BOOL: { bytes: 1, range: [0, 1], read: (v, o) => v.getUint8(o) },
};

function float16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

export interface V2Input {
  name: string;
  shape: number[];
  datatype: string;
  data?: unknown;
  parameters?: Record<string, unknown>;
}

/** The v2 datatype that carries each input element type, for the metadata routes. */
export const V2_INPUT_DATATYPES: Record<InputDtype, string> = {
  float32: 'FP32',
  float64: 'FP64',
  int64: 'INT64',
  int32: 'INT32',
  uint8: 'UINT8',
  bool: 'BOOL',
};

/**
 * A v2 request's input tensors as the model's packed rows. Each tensor holds the whole batch:
 * its first dimension counts the instances, the rest hold one input's values per instance (as
 * its shape, or flat). A model with one input takes one tensor whatever its name; a model with
 * several takes one tensor per input, by name, in any order; a text model also takes one BYTES
 * tensor of strings, whatever its name. `binaryAt(i)` is tensor i's bytes
 * when the request used the binary tensor data extension. Errors name the field, as
 * `inputs[0].shape`.
 */
export function decodeV2Inputs(
  tensors: readonly V2Input[],
  info: ModelInfo,
  maxRows: number,
  binaryAt: (index: number) => Buffer | undefined,
  text?: TextCodec,
  /** How errors name tensor t: `inputs[t]`, or where a forwarded response held it. */
  fieldOf: (t: number) => string = (t) => `inputs[${t}]`,
  /** How errors name tensor t's values (gRPC holds them in a typed contents field). */
  dataOf: (t: number) => string = (t) => `${fieldOf(t)}.data`,
): DecodedBatch {
  if (tensors.length === 1 && tensors[0].datatype === 'BYTES' && text) return decodeV2Text(tensors[0], info, maxRows, binaryAt(0), text, fieldOf(0), dataOf(0));
  const names = info.inputs.map((i) => i.name);
  const order = tensorOrder(tensors, info);
  const layout = inputLayout(info.inputs);
  let rows: number | undefined;
  let packed: Float32Array | undefined;
  order.forEach((t, j) => {
    const input = info.inputs[j];
    const tensor = tensors[t];
    const at = fieldOf(t);
    const n = tensorRows(tensor, input, info, at, names.length === 1);
    if (rows !== undefined && n !== rows) {
      throw new OodError('INVALID_INSTANCE', `${at} holds ${n} instances, ${fieldOf(order[0])} ${rows}: every input tensor holds the same batch`);
    }
    if (n > maxRows) throw batchTooLarge(n, maxRows, at);
    rows = n;
    const binary = binaryAt(t);
    if (!binary && tensor.data === undefined) throw new OodError('INVALID_INSTANCE', `${at} has no data, and no binary_data_size for binary tensor data`);
    const values = new Float32Array(n * inputWidth(input));
    const wire = NUMERIC_TYPES[tensor.datatype];
    if (binary) readBinary(binary, wire, input.dtype, values, at, tensor.datatype);
    else readJson(tensor.data, tensor.shape, { dtype: input.dtype, wire: wireCheck(wire, tensor.datatype) }, values, dataOf(t));
    if (layout.inputs.length === 1) {
      packed = values;
      return;
    }
    packed ??= new Float32Array(n * layout.width);
    scatter(values, packed, n, inputWidth(input), layout.offsets[j], layout.width);
  });
  return { inputs: packed as Float32Array, rows: rows as number };
}

/** Texts as a BYTES tensor [N] or [N, 1]: JSON strings, or in binary each one's UTF-8 bytes after its length (4 bytes, little-endian). */
function decodeV2Text(tensor: V2Input, info: ModelInfo, maxRows: number, binary: Buffer | undefined, text: TextCodec, at: string, dataAt: string): DecodedBatch {
  const { shape } = tensor;
  if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
    throw new OodError('INVALID_INSTANCE', `${at}.shape [${shape.join(', ')}] does not hold texts: send [N] or [N, 1] for N texts`);
  }
  const rows = shape[0];
  if (rows === 0) throw new OodError('INVALID_INSTANCE', `${at}.shape [${shape.join(', ')}] holds no instance`);
  if (rows > maxRows) throw batchTooLarge(rows, maxRows, at);
  const texts = binary ? bytesElements(binary, rows, at) : jsonStrings(tensor.data, rows, dataAt);
  const out = new Float32Array(rows * inputLayout(info.inputs).width);
  texts.forEach((value, row) => text.encodeInto(value, out, row, `${dataAt}[${row}]`));
  return { inputs: out, rows };
}

function jsonStrings(data: unknown, rows: number, at: string): string[] {
  if (!Array.isArray(data)) throw new OodError('INVALID_INSTANCE', `${at} must be a list of strings`);
  const flat = data.map((v) => (Array.isArray(v) && v.length === 1 ? v[0] : v));
  if (flat.length !== rows) throw new OodError('INVALID_INSTANCE', `${at} holds ${flat.length} values; its shape gives ${rows}`);
  flat.forEach((v, i) => {
    if (typeof v !== 'string') throw new OodError('INVALID_INSTANCE', `${at}[${i}] must be a string, got ${describeValue(v)}`);
  });
  return flat as string[];
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function bytesElements(bytes: Buffer, rows: number, at: string): string[] {
  const out: string[] = [];
  let offset = 0;
  for (let i = 0; i < rows; i++) {
    if (offset + 4 > bytes.byteLength) throw new OodError('INVALID_INSTANCE', `${at} binary data end after ${i} of ${rows} strings`);
    const length = bytes.readUInt32LE(offset);
    offset += 4;
    if (offset + length > bytes.byteLength) throw new OodError('INVALID_INSTANCE', `${at} string ${i} runs past the binary data (${length} bytes)`);
    try {
      out.push(UTF8.decode(bytes.subarray(offset, offset + length)));
    } catch {
      throw new OodError('INVALID_INSTANCE', `${at} string ${i} is not valid UTF-8`);
    }
    offset += length;
  }
  if (offset !== bytes.byteLength) throw new OodError('INVALID_INSTANCE', `${at} has ${bytes.byteLength - offset} bytes of binary data after its ${rows} strings`);
  return out;
}

/** For each of the model's inputs, the index of the tensor that carries it. */
function tensorOrder(tensors: readonly V2Input[], info: ModelInfo): number[] {
  const names = info.inputs.map((i) => i.name);
  if (names.length === 1) {
    if (tensors.length !== 1) throw new OodError('INVALID_INSTANCE', `inputs holds ${tensors.length} tensors; model ${info.name} takes one, ${names[0]}`);
    return [0];
  }
  const repeated = tensors.find((t, i) => tensors.findIndex((u) => u.name === t.name) !== i);
  if (repeated) throw new OodError('INVALID_INSTANCE', `inputs names ${clientName(repeated.name)} twice`);
  const { extra } = nameMismatch(tensors.map((t) => t.name), names);
  if (extra.length > 0) throw new OodError('INVALID_INSTANCE', `inputs names ${clientNames(extra)}, which model ${info.name} does not take; its inputs are ${names.join(', ')}`);
  return names.map((name) => {
    const index = tensors.findIndex((t) => t.name === name);
    if (index < 0) throw new OodError('INVALID_INSTANCE', `inputs lacks the tensor "${name}"; model ${info.name} takes ${names.join(', ')}`);
    return index;
  });
}

/** The tensor's instance count, once its datatype and shape are known to carry the input. */
function tensorRows(tensor: V2Input, input: ModelInput, info: ModelInfo, at: string, only: boolean): number {
  if (!NUMERIC_TYPES[tensor.datatype]) {
    throw new OodError(
      'INVALID_INSTANCE',
      `${at}.datatype ${clientName(tensor.datatype)} is not a numeric type; model ${info.name} takes numbers (${Object.keys(NUMERIC_TYPES).join(', ')})`,
    );
  }
  const width = inputWidth(input);
  const [rows, ...perRow] = tensor.shape;
  const perRowSize = perRow.reduce((a, b) => a * b, 1);
  const shape = only ? info.input_shape : input.shape;
  if (tensor.shape.length < 2 || perRowSize !== width) {
    throw new OodError(
      'INVALID_INSTANCE',
      `${at}.shape [${tensor.shape.join(', ')}] does not hold instances of model ${info.name}'s input${only ? '' : ` ${input.name}`}: ` +
        `send [N, ${shape.join(', ')}]${shape.length > 1 ? ` or [N, ${width}]` : ''} for N instances`,
    );
  }
  if (rows === 0) throw new OodError('INVALID_INSTANCE', `${at}.shape [${tensor.shape.join(', ')}] holds no instance`);
  return rows;
}

function scatter(values: Float32Array, packed: Float32Array, rows: number, width: number, offset: number, stride: number): void {
  for (let r = 0; r < rows; r++) packed.set(values.subarray(r * width, (r + 1) * width), r * stride + offset);
}

/** What the wire datatype itself allows (an INT64 tensor holds whole numbers), before the model's input type is checked. */
function wireCheck(type: NumericType, datatype: string): ((x: unknown) => string | undefined) | undefined {
  if (!type.range) return undefined;
  const [min, max] = type.range;
  return (x) => (typeof x === 'number' && (!Number.isInteger(x) || x < min || x > max) ? `is ${x}, not a ${datatype} value` : undefined);
}

function readBinary(bytes: Buffer, type: NumericType, dtype: InputDtype, out: Float32Array, at: string, datatype: string): void {
  if (bytes.byteLength !== out.length * type.bytes) {
    throw new OodError(
      'INVALID_INSTANCE',
      `${at} has ${bytes.byteLength} bytes of binary data; its shape and datatype ${datatype} need ${out.length * type.bytes}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) {
    const x = type.read(view, i * type.bytes);
    const problem = elementProblem(x, dtype);
    if (problem !== undefined) throw new OodError('INVALID_INSTANCE', `${at} element ${i} ${problem}`);
    out[i] = x;
  }
}

/**
 * Flat (every value in one list) or nested exactly as the shape says: either way the values are
 * taken in row-major order, as the spec allows.
 */
function readJson(data: unknown, shape: readonly number[], rule: ElementRule, out: Float32Array, at: string): void {
  if (!Array.isArray(data)) throw new OodError('INVALID_INSTANCE', `${at} must be an array of numbers, flat or nested`);
  if (!data.some(Array.isArray)) {
    if (data.length !== out.length) throw new OodError('INVALID_INSTANCE', `${at} holds ${data.length} values; its shape gives ${out.length}`);
    copyNested(data, [data.length], rule, out, 0, at);
    return;
  }
  copyNested(data, shape, rule, out, 0, at, true);
}
