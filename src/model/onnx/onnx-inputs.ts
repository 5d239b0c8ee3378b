import * as ort from 'onnxruntime-node';
import { gatherInput, INPUT_DTYPES, type InputDtype, type InputLayout, type ModelInput } from '../model-inputs.js';
import { OnnxFormatError, type OnnxGraphInfo } from './onnx-graph.js';

/** ONNX TensorProto.DataType codes of the element types this service can feed. */
const ELEM_TYPES: Record<number, InputDtype> = { 1: 'float32', 2: 'uint8', 6: 'int32', 7: 'int64', 9: 'bool', 11: 'float64' };
const ELEM_NAMES: Record<number, string> = { 3: 'int8', 4: 'uint16', 5: 'int16', 8: 'string', 10: 'float16', 12: 'uint32', 13: 'uint64' };

export interface OnnxInputs {
  inputs: ModelInput[];
  /** Whether the file fixes the batch size at 1, so rows must go one per run. */
  singleRow: boolean;
}

/**
 * Per-instance shapes for inputs whose file leaves dimensions free (a sequence length, an image
 * size): keyed by input name, or one plain shape for a model with one input.
 */
export type GivenShapes = readonly number[] | Readonly<Record<string, readonly number[]>>;

function givenShape(given: GivenShapes | undefined, name: string, only: boolean): readonly number[] | undefined {
  if (given === undefined) return undefined;
  if (Array.isArray(given)) return only ? (given as readonly number[]) : undefined;
  // A graph input may be called "constructor" or "toString": only the given object's own keys count.
  return Object.hasOwn(given, name) ? (given as Record<string, readonly number[]>)[name] : undefined;
}

/**
 * The model's inputs: name, element type and per-instance shape (free dimensions taken from
 * `given`), and whether the batch dimension is fixed at 1. Throws OnnxFormatError on what this
 * service cannot feed, naming the input.
 */
export function onnxInputs(info: OnnxGraphInfo, given?: GivenShapes): OnnxInputs {
  if (info.inputs.length === 0) throw new OnnxFormatError('has no inputs');
  let singleRow = false;
  const only = info.inputs.length === 1;
  const inputs = info.inputs.map((input): ModelInput => {
    const dtype = ELEM_TYPES[input.elemType];
    if (!dtype) {
      const type = ELEM_NAMES[input.elemType] ?? `element type ${input.elemType}`;
      throw new OnnxFormatError(`input "${input.name}" is ${type}; inputs of ${INPUT_DTYPES.join(', ')} are supported`);
    }
    if (input.dims.length < 2) {
      throw new OnnxFormatError(`input "${input.name}" has shape [${input.dims.join(', ')}]; expected a batch dimension first`);
    }
    const [batch, ...rest] = input.dims;
    if (batch === 1) singleRow = true;
    const fixed = rest.every((d): d is number => typeof d === 'number');
    const shape = givenShape(given, input.name, only);
    if (fixed) return { name: input.name, dtype, shape: rest as number[] };
    if (!shape) {
      const how = only ? '--input-shape 1,28,28 (say)' : `--input-shape ${info.inputs.map((i) => `${i.name}=128`).join(',')} (say)`;
      throw new OnnxFormatError(`input "${input.name}" has free dimensions [${input.dims.join(', ')}]; give its per-instance shape with ${how}`);
    }
    return { name: input.name, dtype, shape: [...shape] };
  });
  return { inputs, singleRow };
}

/** One onnxruntime tensor per input, for `rows` packed rows, each in the element type the model takes. */
export function onnxFeed(packed: Float32Array, rows: number, layout: InputLayout): Record<string, ort.Tensor> {
  const feed: Record<string, ort.Tensor> = {};
  layout.inputs.forEach((input, i) => {
    const values = gatherInput(packed, rows, layout, i);
    const dims = [rows, ...input.shape];
    feed[input.name] = tensorOf(input.dtype, values, dims);
  });
  return feed;
}

function tensorOf(dtype: InputDtype, values: Float32Array, dims: number[]): ort.Tensor {
  switch (dtype) {
    case 'float32':
      return new ort.Tensor('float32', values, dims);
    case 'float64':
      return new ort.Tensor('float64', Float64Array.from(values), dims);
    case 'int32':
      return new ort.Tensor('int32', Int32Array.from(values), dims);
    case 'uint8':
      return new ort.Tensor('uint8', Uint8Array.from(values), dims);
    case 'bool':
      return new ort.Tensor('bool', Uint8Array.from(values), dims);
    case 'int64': {
      const out = new BigInt64Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = BigInt(values[i]);
      return new ort.Tensor('int64', out, dims);
    }
  }
}
