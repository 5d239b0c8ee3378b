import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';

// A CommonJS package: its namespace is a property of the default export under ESM.
const { onnx } = onnxProto;
const DOUBLE = 11;
const INT64 = 7;

type Dim = number | string;
const shape = (dims: Dim[]) => ({ dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) });

export interface Float64GraphSpec {
  name: string;
  /** Nodes in ONNX's form: opType, input and output names, and attributes. */
  nodes: onnxProto.onnx.INodeProto[];
  /** The graph's one input and one output, each with its dimensions (a string names a free one). */
  input: { name: string; dims: Dim[] };
  output: { name: string; dims: Dim[] };
  /** Constant tensors the nodes read, by name: float64 values, or int64 ones (indices, axes). */
  constants?: Record<string, { values: Float64Array | BigInt64Array; dims: number[] }>;
  /**
   * Threads for one run. A scoring thread already has a core of its own: more would only contend
   * with the other scoring threads. Leave it out to use every core (a one-off build step).
   */
  threads?: number;
}

/**
 * A session of a small graph written here rather than read from a file, computing in float64
 * so that its sums match a JavaScript loop's to rounding.
 */
export async function float64Session(spec: Float64GraphSpec): Promise<ort.InferenceSession> {
  const initializer = Object.entries(spec.constants ?? {}).map(([name, { values, dims }]) => ({
    name,
    dataType: values instanceof BigInt64Array ? INT64 : DOUBLE,
    dims,
    rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  }));
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: spec.name,
      node: spec.nodes,
      initializer,
      input: [{ name: spec.input.name, type: { tensorType: { elemType: DOUBLE, shape: shape(spec.input.dims) } } }],
      output: [{ name: spec.output.name, type: { tensorType: { elemType: DOUBLE, shape: shape(spec.output.dims) } } }],
    },
  });
  const threads = spec.threads === undefined ? {} : { intraOpNumThreads: spec.threads, interOpNumThreads: 1 };
  return ort.InferenceSession.create(onnx.ModelProto.encode(model).finish(), { graphOptimizationLevel: 'all', logSeverityLevel: 3, ...threads });
}

/** Runs a one-input, one-output float64 session and copies the output out of onnxruntime's buffer. */
export async function runFloat64(session: ort.InferenceSession, input: string, output: string, data: Float64Array, dims: number[]): Promise<Float64Array> {
  const result = await session.run({ [input]: new ort.Tensor('float64', data, dims) });
  const tensor = result[output];
  try {
    return Float64Array.from(tensor.data as Float64Array);
  } finally {
    tensor.dispose();
  }
}
