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

/** A float32 array as a .npy file, its bytes copied once (npyBytes goes value by value). */
export function float32NpyBytes(shape: readonly number[], data: Float32Array): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const header = npyHeader(`{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`);
  return Buffer.concat([header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}
