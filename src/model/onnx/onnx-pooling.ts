import onnxProto, { type onnx as Onnx } from 'onnx-proto';
import type { LayerSpec, PoolOp } from '../layer-spec.js';

const { onnx } = onnxProto;

/**
 * Pooled layers as nodes of the graph itself, so onnxruntime computes them and returns only the
 * pooled vectors: a BERT layer's [128, 768] per instance never crosses into JavaScript, and the
 * same graph can be handed to a model server as it is. Each pooled layer becomes a graph output
 * named as the manifest names it ("x:mean"). The ops are written for the model's own opset:
 * ReduceSum takes its axes as an input from opset 13 and ReduceMean from opset 18.
 */

const INT = 2;
const INTS = 7;
const FLOAT = 1;
const INT64 = 7;

export interface PoolingPlan {
  /** The layers to pool, each with how (layer-spec.ts's poolOp). */
  layers: { spec: LayerSpec; op: PoolOp }[];
  /** The input that masks padding tokens (attention_mask); tokens are averaged unmasked without one. */
  maskInput?: string;
  opset: number;
}

class GraphBuilder {
  readonly nodes: Onnx.INodeProto[] = [];
  readonly initializers: Onnx.ITensorProto[] = [];
  private count = 0;

  constructor(private readonly prefix: string, private readonly opset: number) {}

  fresh(what: string): string {
    return `${this.prefix}/${what}_${this.count++}`;
  }

  int64s(values: number[]): string {
    const name = this.fresh('const');
    this.initializers.push({ name, dims: [values.length], dataType: INT64, int64Data: values });
    return name;
  }

  scalarInt64(value: number): string {
    const name = this.fresh('index');
    this.initializers.push({ name, dims: [], dataType: INT64, int64Data: [value] });
    return name;
  }

  float(value: number): string {
    const name = this.fresh('const');
    this.initializers.push({ name, dims: [1], dataType: FLOAT, floatData: [value] });
    return name;
  }

  node(opType: string, input: string[], attribute: Onnx.IAttributeProto[] = [], output = this.fresh(opType)): string {
    this.nodes.push({ opType, input, output: [output], name: this.fresh(`${opType}_node`), attribute });
    return output;
  }

  /** ReduceSum or ReduceMean over `axes`, in the form the opset takes. */
  reduce(op: 'ReduceSum' | 'ReduceMean', input: string, axes: number[], keepdims: boolean, output?: string): string {
    const asInput = op === 'ReduceSum' ? this.opset >= 13 : this.opset >= 18;
    const keep = { name: 'keepdims', i: keepdims ? 1 : 0, type: INT };
    if (asInput) return this.node(op, [input, this.int64s(axes)], [keep], output);
    return this.node(op, [input], [keep, { name: 'axes', ints: axes, type: INTS }], output);
  }
}

/** A re-encoded copy of `model` whose graph also outputs every pooled layer under its name. */
export function withPooledOutputs(model: Onnx.ModelProto, plan: PoolingPlan): Onnx.ModelProto {
  const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const graph = copy.graph as Onnx.GraphProto;
  const b = new GraphBuilder('ood_pool', plan.opset);
  // The mask takes the hidden state's own float type (CastLike, from opset 15), so a float16 or
  // float64 model pools as its own arithmetic does; older opsets get float32.
  const tokenMask = (x: string) => {
    if (!plan.maskInput) return undefined;
    const like = plan.opset >= 15;
    const asFloat = like ? b.node('CastLike', [plan.maskInput, x]) : b.node('Cast', [plan.maskInput], [{ name: 'to', i: FLOAT, type: INT }]);
    // [N, T] -> [N, T, 1], to weight every token's vector; Reshape's 0 keeps the batch size.
    const weights = b.node('Reshape', [asFloat, b.int64s([0, -1, 1])]);
    // Never zero: a text of padding alone averages to zero rather than to NaN.
    const one = like ? b.node('CastLike', [b.float(1), x]) : b.float(1);
    const count = b.node('Max', [b.reduce('ReduceSum', asFloat, [1], true), one]);
    return { weights, count };
  };
  for (const { spec, op } of plan.layers) {
    if (!spec.pooling) continue;
    const x = spec.value;
    // A sequence's tokens (one axis) are weighted by the mask; a map's H and W are all averaged.
    const m = op !== 'first' && op.mean.length === 1 ? tokenMask(x) : undefined;
    if (op === 'first') b.node('Gather', [x, b.scalarInt64(0)], [{ name: 'axis', i: 1, type: INT }], spec.name);
    else if (!m) b.reduce('ReduceMean', x, op.mean, false, spec.name);
    else b.node('Div', [b.reduce('ReduceSum', b.node('Mul', [x, m.weights]), op.mean, false), m.count], [], spec.name);
    graph.output.push(onnx.ValueInfoProto.create({ name: spec.name }));
  }
  graph.node.push(...b.nodes.map((n) => onnx.NodeProto.create(n)));
  graph.initializer.push(...b.initializers.map((t) => onnx.TensorProto.create(t)));
  return copy;
}
