import onnxProto, { type onnx as Onnx } from 'onnx-proto';

// A CommonJS package: its namespace is a property of the default export under ESM.
const { onnx } = onnxProto;

/**
 * Reading and editing an ONNX graph in memory (the file on disk is never changed): what its
 * input and outputs are, which intermediate values could be indexed, and a copy of the model
 * that also outputs the chosen values. onnxruntime only returns graph outputs, so exposing a
 * hidden layer means listing its value among them.
 */

/** ONNX TensorProto.DataType values that this service feeds or reads. */
export const ONNX_FLOAT = 1;

export interface OnnxValue {
  name: string;
  /** Per-dimension size, or the symbolic name (e.g. "batch") of a free dimension. */
  dims: (number | string)[];
  elemType: number;
}

export interface OnnxNodeValue {
  /** The value's name: what a manifest's `layers` lists. */
  name: string;
  /** The op that produces it (Relu, Flatten, MaxPool, Gemm, ...). */
  op: string;
  /** The producing node's own name, when the exporter gave one (e.g. "/fc1/Gemm"). */
  node: string;
}

export interface OnnxGraphInfo {
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  /** Every value a node produces, in graph order (topological in any valid file). */
  values: OnnxNodeValue[];
  /** For each value, the ops of the nodes that take it as an input. */
  consumers: Map<string, string[]>;
  opset: number;
  producer: string;
}

export class OnnxFormatError extends Error {}

export function decodeModel(bytes: Uint8Array): Onnx.ModelProto {
  let model: Onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new OnnxFormatError(`is not an ONNX model (protobuf decoding failed: ${(err as Error).message})`);
  }
  // Protobuf decodes many byte strings without complaint: a model needs a graph with nodes.
  const graph = model.graph;
  if (!graph || !graph.node || graph.node.length === 0 || !graph.output || graph.output.length === 0) {
    throw new OnnxFormatError('is not an ONNX model (no graph with nodes and outputs)');
  }
  return model;
}

function toValue(info: Onnx.IValueInfoProto): OnnxValue {
  const tensor = info.type?.tensorType;
  const dims = (tensor?.shape?.dim ?? []).map((d) =>
    d.dimValue !== undefined && d.dimValue !== null && Number(d.dimValue) > 0 ? Number(d.dimValue) : d.dimParam || '?',
  );
  return { name: info.name ?? '', dims, elemType: tensor?.elemType ?? 0 };
}

export function graphInfo(model: Onnx.ModelProto): OnnxGraphInfo {
  const graph = model.graph as Onnx.GraphProto;
  // Before IR version 4 every initializer was listed among the inputs too: those are weights.
  const weights = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = (graph.input ?? []).filter((i) => !weights.has(i.name ?? '')).map(toValue);
  const outputs = graph.output.map(toValue);
  const values: OnnxNodeValue[] = [];
  const consumers = new Map<string, string[]>();
  for (const node of graph.node) {
    for (const output of node.output ?? []) {
      if (output) values.push({ name: output, op: node.opType ?? '', node: node.name ?? '' });
    }
    for (const input of node.input ?? []) {
      if (!input) continue;
      const uses = consumers.get(input) ?? [];
      uses.push(node.opType ?? '');
      consumers.set(input, uses);
    }
  }
  // The default domain may be written out as "ai.onnx".
  const opset = Math.max(0, ...(model.opsetImport ?? []).filter((o) => !o.domain || o.domain === 'ai.onnx').map((o) => Number(o.version ?? 0)));
  const producer = [model.producerName, model.producerVersion].filter(Boolean).join(' ');
  return { inputs, outputs, values, consumers, opset, producer };
}

/**
 * A re-encoded copy whose graph also outputs `names`. Values already among the outputs are not
 * listed twice. The added outputs carry no type: onnxruntime infers it.
 */
export function withOutputs(model: Onnx.ModelProto, names: readonly string[]): Uint8Array {
  const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const graph = copy.graph as Onnx.GraphProto;
  const present = new Set(graph.output.map((o) => o.name));
  for (const name of names) {
    if (present.has(name)) continue;
    graph.output.push(onnx.ValueInfoProto.create({ name }));
    present.add(name);
  }
  return onnx.ModelProto.encode(copy).finish();
}
