import type { ModelInfo } from '../../detector/types.js';
import { OodError } from '../../errors.js';
import { batchTooLarge, type DecodedBatch } from '../plugins/scoring.js';

/** Values beyond this become Infinity in a Float32Array, though they are finite in JSON. */
const FLOAT32_MAX = 3.4028234663852886e38;

interface NumericType {
  bytes: number;
  /** Integer types: the range a value must lie in. */
  range?: [number, number];
  /** Reads one little-endian element, as the binary tensor extension lays them out. */
  read(view: DataView, offset: number): number;
}

/** The numeric data types of the Open Inference Protocol; models take float32, so all are converted. */
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

/**
 * The one input tensor of a v2 request as the model's rows. The tensor holds the whole batch:
 * its first dimension counts the instances, the rest must hold the model's input values per
 * instance (as input_shape, or flat). `binary` is the tensor's bytes when the request used the
 * binary tensor data extension. Errors name the field, as `inputs[0].shape`.
 */
export function decodeV2Input(input: V2Input, info: ModelInfo, maxRows: number, binary?: Buffer): DecodedBatch {
  const at = 'inputs[0]';
  const type = NUMERIC_TYPES[input.datatype];
  if (!type) {
    throw new OodError(
      'INVALID_INSTANCE',
      `${at}.datatype ${input.datatype} is not a numeric type; model ${info.name} takes numbers (${Object.keys(NUMERIC_TYPES).join(', ')})`,
    );
  }
  const width = info.input_shape.reduce((a, b) => a * b, 1);
  const [rows, ...perRow] = input.shape;
  const perRowSize = perRow.reduce((a, b) => a * b, 1);
  if (input.shape.length < 2 || perRowSize !== width) {
    throw new OodError(
      'INVALID_INSTANCE',
      `${at}.shape [${input.shape.join(', ')}] does not hold instances of model ${info.name}'s input: ` +
        `send [N, ${info.input_shape.join(', ')}] or [N, ${width}] for N instances`,
    );
  }
  if (rows === 0) throw new OodError('INVALID_INSTANCE', `${at}.shape [${input.shape.join(', ')}] holds no instance`);
  if (rows > maxRows) throw batchTooLarge(rows, maxRows, at);
  const out = new Float32Array(rows * width);
  if (binary) readBinary(binary, type, out, at, input.datatype);
  else readJson(input.data, input.shape, type, out, at, input.datatype);
  return { inputs: out, rows };
}

function readBinary(bytes: Buffer, type: NumericType, out: Float32Array, at: string, datatype: string): void {
  if (bytes.byteLength !== out.length * type.bytes) {
    throw new OodError(
      'INVALID_INSTANCE',
      `${at} has ${bytes.byteLength} bytes of binary data; its shape and datatype ${datatype} need ${out.length * type.bytes}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) {
    out[i] = checked(type.read(view, i * type.bytes), type, `${at} element ${i}`, datatype);
  }
}

/**
 * Flat (every value in one list) or nested exactly as the shape says: either way the values are
 * taken in row-major order, as the spec allows. Nested data whose lists disagree with the shape
 * is refused even when the count is right, since its rows would not be the client's rows.
 */
function readJson(data: unknown, shape: readonly number[], type: NumericType, out: Float32Array, at: string, datatype: string): void {
  if (!Array.isArray(data)) throw new OodError('INVALID_INSTANCE', `${at}.data must be an array of numbers, flat or nested`);
  if (!data.some(Array.isArray)) {
    if (data.length !== out.length) throw new OodError('INVALID_INSTANCE', `${at}.data holds ${data.length} values; its shape gives ${out.length}`);
    for (let i = 0; i < data.length; i++) out[i] = checked(data[i], type, `${at}.data[${i}]`, datatype);
    return;
  }
  const shown = `[${shape.join(', ')}]`;
  let count = 0;
  const walk = (value: unknown[], depth: number, path: string) => {
    if (value.length !== shape[depth]) {
      throw new OodError('INVALID_INSTANCE', `${path} holds ${value.length} elements; the shape ${shown} gives ${shape[depth]} there`);
    }
    const leaf = depth === shape.length - 1;
    for (let i = 0; i < value.length; i++) {
      const x = value[i];
      if (leaf && Array.isArray(x)) throw new OodError('INVALID_INSTANCE', `${path}[${i}] is nested deeper than the shape ${shown}`);
      if (!leaf && !Array.isArray(x)) throw new OodError('INVALID_INSTANCE', `${path}[${i}] should be a list of ${shape[depth + 1]} elements, as the shape ${shown} says`);
      if (leaf) out[count++] = checked(x, type, `${path}[${i}]`, datatype);
      else walk(x as unknown[], depth + 1, `${path}[${i}]`);
    }
  };
  walk(data, 0, `${at}.data`);
}

function checked(x: unknown, type: NumericType, path: string, datatype: string): number {
  if (typeof x !== 'number' || !(x >= -FLOAT32_MAX && x <= FLOAT32_MAX)) {
    throw new OodError('INVALID_INSTANCE', `${path} must be a finite number within float32 range, got ${JSON.stringify(x) ?? String(x)}`);
  }
  if (type.range && (!Number.isInteger(x) || x < type.range[0] || x > type.range[1])) {
    throw new OodError('INVALID_INSTANCE', `${path} is ${x}, not a ${datatype} value`);
  }
  return x;
}
