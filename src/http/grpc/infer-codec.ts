import { OodError } from '../../errors.js';
import type { OutputTensor } from '../protocols/output-tensors.js';
import type { V2Input } from '../protocols/v2-tensors.js';
import type { InferTensorContents, ModelInferRequest, ModelInferResponse } from './proto.js';

/** The typed field that carries each datatype's values (FP16 has none: it travels raw only). */
export const CONTENTS_FIELD: Record<string, keyof InferTensorContents> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

/** The most dimensions a tensor may have, as on REST. */
const MAX_DIMENSIONS = 9;

/** A gRPC request's input tensors in the REST decoder's terms, with how errors name their parts. */
export interface GrpcInputs {
  tensors: V2Input[];
  binaryAt(t: number): Buffer | undefined;
  dataOf(t: number): string;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Turns ModelInfer's inputs into the tensors the v2 decoder reads: typed contents become its
 * flat `data`, raw contents its binary data (the same layout as REST's binary extension, BYTES
 * elements included). What only gRPC can get wrong is refused here, naming the field.
 */
export function grpcInputs(request: ModelInferRequest): GrpcInputs {
  const { inputs, raw_input_contents: rawContents } = request;
  if (inputs.length === 0) throw new OodError('INVALID_INSTANCE', 'inputs must hold the input tensors');
  const raw = rawContents.length > 0;
  if (raw && rawContents.length !== inputs.length) {
    throw new OodError('INVALID_INSTANCE', `raw_input_contents holds ${rawContents.length} entries and inputs ${inputs.length} tensors: send one each, in the order of inputs`);
  }
  const tensors = inputs.map((input, t): V2Input => {
    checkShape(input.shape, `inputs[${t}].shape`);
    const tensor: V2Input = { name: input.name, datatype: input.datatype, shape: input.shape };
    const used = usedFields(input.contents);
    if (raw) {
      if (used.length > 0) throw new OodError('INVALID_INSTANCE', `inputs[${t}].contents holds ${used.join(', ')}; with raw_input_contents no input may have typed contents`);
      return tensor;
    }
    return { ...tensor, data: typedData(input.contents, input.datatype, used, `inputs[${t}]`) };
  });
  return {
    tensors,
    binaryAt: (t) => (raw ? rawContents[t] : undefined),
    dataOf: (t) => (raw ? `raw_input_contents[${t}]` : `inputs[${t}].contents.${CONTENTS_FIELD[inputs[t].datatype] ?? 'contents'}`),
  };
}

function checkShape(shape: readonly number[], at: string): void {
  if (shape.length > MAX_DIMENSIONS) throw new OodError('INVALID_INSTANCE', `${at} has ${shape.length} dimensions; at most ${MAX_DIMENSIONS} are allowed`);
  const bad = shape.findIndex((d) => !Number.isSafeInteger(d) || d < 0);
  if (bad >= 0) throw new OodError('INVALID_INSTANCE', `${at}[${bad}] is ${shape[bad]}; a dimension is a whole number of at least 0`);
}

function usedFields(contents: InferTensorContents | null): (keyof InferTensorContents)[] {
  if (!contents) return [];
  return (Object.keys(contents) as (keyof InferTensorContents)[]).filter((field) => Array.isArray(contents[field]) && contents[field].length > 0);
}

function typedData(contents: InferTensorContents | null, datatype: string, used: readonly (keyof InferTensorContents)[], at: string): unknown[] {
  const field = CONTENTS_FIELD[datatype];
  if (!field) {
    throw new OodError(
      'INVALID_INSTANCE',
      datatype === 'FP16'
        ? `${at}.datatype FP16 has no typed contents: send it in raw_input_contents`
        : `${at}.datatype ${JSON.stringify(datatype)} is not an Open Inference Protocol datatype (${Object.keys(CONTENTS_FIELD).join(', ')}, FP16)`,
    );
  }
  const other = used.filter((f) => f !== field);
  if (other.length > 0) throw new OodError('INVALID_INSTANCE', `${at}.contents holds ${other.join(', ')}; datatype ${datatype} takes ${field}`);
  if (used.length === 0 && !contents) throw new OodError('INVALID_INSTANCE', `${at} has no contents: send the values in contents.${field}, or every input in raw_input_contents`);
  const values = contents?.[field] ?? [];
  if (field !== 'bytes_contents') return values as unknown[];
  return (values as Buffer[]).map((bytes, i) => {
    try {
      return UTF8.decode(bytes);
    } catch {
      throw new OodError('INVALID_INSTANCE', `${at}.contents.bytes_contents[${i}] is not valid UTF-8`);
    }
  });
}

/** Whether the answer goes in raw_output_contents: when the request sent raw inputs, or asked for binary outputs. */
export function wantsRawOutputs(request: ModelInferRequest): boolean {
  return request.raw_input_contents.length > 0 || request.outputs.some((o) => o.parameters?.binary_data?.bool_param === true);
}

/** The detector's outputs as ModelInfer's answer, in typed contents or raw. */
export function grpcInferResponse(model: { name: string; version: string }, id: string, tensors: readonly OutputTensor[], raw: boolean): ModelInferResponse {
  const outputs = tensors.map(({ name, datatype, shape, data }) => ({
    name,
    datatype,
    shape,
    ...(raw ? {} : { contents: { [CONTENTS_FIELD[datatype]]: datatype === 'BYTES' ? data.map((v) => Buffer.from(String(v), 'utf8')) : data } }),
  }));
  return { model_name: model.name, model_version: model.version, id, outputs, raw_output_contents: raw ? tensors.map(rawBytes) : [] };
}

/** One tensor's values flat, little-endian; a BYTES element as its length (4 bytes) then its UTF-8. */
export function rawBytes({ datatype, data }: Pick<OutputTensor, 'datatype' | 'data'>): Buffer {
  if (datatype === 'BYTES') {
    return Buffer.concat(
      data.flatMap((v) => {
        const bytes = Buffer.from(String(v), 'utf8');
        const length = Buffer.alloc(4);
        length.writeUInt32LE(bytes.length);
        return [length, bytes];
      }),
    );
  }
  const width = { FP32: 4, FP64: 8, INT64: 8, BOOL: 1 }[datatype];
  const out = Buffer.alloc(data.length * width);
  data.forEach((v, i) => {
    if (datatype === 'FP32') out.writeFloatLE(Number(v), i * 4);
    else if (datatype === 'FP64') out.writeDoubleLE(Number(v), i * 8);
    else if (datatype === 'INT64') out.writeBigInt64LE(BigInt(Number(v)), i * 8);
    else out.writeUInt8(v ? 1 : 0, i);
  });
  return out;
}
