import * as ort from 'onnxruntime-node';
import onnxProto, { type onnx as Onnx } from 'onnx-proto';
import { OodError } from '../../errors.js';
import type { ClassScoreKind } from '../features/features-runtime.js';
import { parseLayer } from '../layer-spec.js';
import { INPUT_LAYER } from '../manifest.js';
import type { ModelDescription } from '../model-description.js';
import { inputLayout, type InputLayout, type ModelInput } from '../model-inputs.js';
import { describeOnnx } from './describe-onnx.js';
import { maskInput, pooledGraph } from './onnx-embedder.js';
import { decodeModel, graphInfo, OnnxFormatError, withOutputs } from './onnx-graph.js';
import { onnxFeed, onnxInputs, type GivenShapes } from './onnx-inputs.js';

const { onnx } = onnxProto;

/**
 * The user's ONNX model with the chosen layers added as graph outputs, for their model server to
 * return beside its own: the file a features model (model/features/) is fed from. Pooled layers
 * are computed in the graph exactly as the service pools them in-process (onnx-pooling.ts), and
 * every added output is named as the in-process manifest names the layer, so an instance's
 * features are the very values the in-process model would index.
 */

/** The raw input as a feature: a graph output cannot share its input's name. */
export const RAW_INPUT_FEATURE = 'input:raw';

export interface FeatureOutput {
  /** The layer as an in-process manifest names it ("input", "x:mean", "/fc1/Relu_output_0"). */
  layer: string;
  /** The graph output that carries it: the features model's input of that name. */
  output: string;
  /** Per-instance shape. */
  shape: number[];
  /** Element type, as onnxruntime names it (float32, float64, float16). */
  dtype: string;
}

export interface ExportedFeatures {
  bytes: Uint8Array;
  description: ModelDescription;
  layers: FeatureOutput[];
  /** The model's own class output, and what it gives (as the graph suggests). */
  scores: { output: string; classes: number; kind: ClassScoreKind; why: string; dtype: string };
  /** Whether the file fixes the batch at one instance per run. */
  singleRow: boolean;
}

const ELEM_TYPE: Record<string, number> = { float32: 1, float16: 10, float64: 11 };

export interface ExportOptions {
  inputShape?: GivenShapes;
  /** A text model's settings, for the input whose zeros mark padding tokens. */
  text?: { fields: { attention_mask?: string } };
}

export async function exportFeatures(bytes: Uint8Array, file: string, layers: readonly string[], options: ExportOptions = {}): Promise<ExportedFeatures> {
  const invalid = (err: OnnxFormatError) => new OodError('MODEL_INVALID', `${file} ${err.message}`, { cause: err });
  let description: ModelDescription;
  let model: Onnx.ModelProto;
  try {
    description = await describeOnnx(bytes, file, options.inputShape);
    model = decodeModel(bytes);
  } catch (err) {
    if (err instanceof OnnxFormatError) throw invalid(err);
    throw err;
  }
  checkLayers(layers, description, file);
  const info = graphInfo(model);
  const { inputs } = description;
  const specs = layers.filter((l) => l !== INPUT_LAYER).map(parseLayer);
  const attentionMask = options.text?.fields.attention_mask;
  let graph: Onnx.ModelProto;
  try {
    graph = await pooledGraph(model, specs, inputs, attentionMask ?? maskInput({}, inputs), info.opset);
  } catch (err) {
    if (err instanceof OnnxFormatError) throw invalid(err);
    throw err;
  }
  // A copy to edit: pooledGraph hands back the model itself when nothing is pooled.
  graph = onnx.ModelProto.decode(onnx.ModelProto.encode(graph).finish());
  const features: { layer: string; output: string }[] = layers.map((layer) => {
    if (layer === INPUT_LAYER) return { layer, output: RAW_INPUT_FEATURE };
    const spec = parseLayer(layer);
    return { layer, output: spec.pooling ? spec.name : spec.value };
  });
  if (layers.includes(INPUT_LAYER)) {
    const g = graph.graph as Onnx.GraphProto;
    g.node.push(onnx.NodeProto.create({ opType: 'Identity', input: [inputs[0].name], output: [RAW_INPUT_FEATURE], name: 'ood_features/raw_input' }));
  }
  const scoresName = description.classOutput.name;
  const outputs = [...new Set([...features.map((f) => f.output), scoresName])];
  const shapes = await outputShapes(withOutputs(graph, outputs), outputs, inputs, file);
  for (const f of features) {
    if (!shapes.get(f.output)?.float) throw new OodError('CONFIG_INVALID', `layer "${f.layer}" of ${file} is not a float tensor; only float values can be features`);
  }
  const typed = typedOutputs(graph, outputs, shapes, info.inputs[0]?.dims[0]);
  const singleRow = onnxInputs(info, options.inputShape).singleRow;
  const { classOutput } = description;
  return {
    bytes: typed,
    description,
    layers: features.map((f) => ({ ...f, shape: shapes.get(f.output)?.shape ?? [], dtype: shapes.get(f.output)?.type ?? 'float32' })),
    scores: {
      output: scoresName,
      classes: classOutput.classes,
      kind: classOutput.activation === 'softmax' ? 'logits' : 'probabilities',
      why: classOutput.why,
      dtype: shapes.get(scoresName)?.type ?? 'float32',
    },
    singleRow,
  };
}

function checkLayers(layers: readonly string[], description: ModelDescription, file: string): void {
  if (layers.length === 0) throw new OodError('CONFIG_INVALID', `${file}: name at least one layer to export`);
  if (new Set(layers).size !== layers.length) throw new OodError('CONFIG_INVALID', '--layers names a layer twice');
  const values = new Set(description.values);
  for (const layer of layers) {
    if (layer === INPUT_LAYER) {
      const [only] = description.inputs;
      if (description.inputs.length !== 1 || only.dtype !== 'float32') {
        throw new OodError('CONFIG_INVALID', `--layers names "${INPUT_LAYER}", but ${file} takes ${description.inputs.map((i) => `${i.name} (${i.dtype})`).join(', ')}: only one float input can be indexed as it is`);
      }
      if (values.has(RAW_INPUT_FEATURE)) throw new OodError('CONFIG_INVALID', `${file} already has a value named "${RAW_INPUT_FEATURE}", the name the raw input's copy would take`);
      continue;
    }
    if (!values.has(parseLayer(layer).value)) {
      throw new OodError('CONFIG_INVALID', `--layers names "${layer}", which ${file} does not have (\`npm run ood -- inspect ${file}\` lists its layers)`);
    }
  }
}

/** One run on a zero instance with every output exposed: the real shape and type of each. */
async function outputShapes(bytes: Uint8Array, names: readonly string[], inputs: readonly ModelInput[], file: string): Promise<Map<string, { shape: number[]; float: boolean; type: string }>> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  } catch (err) {
    throw new OodError('MODEL_INVALID', `${file} with its features added cannot be opened by onnxruntime: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  try {
    const layout = inputLayout(inputs);
    const results = await session.run(onnxFeed(new Float32Array(layout.width), 1, layout), [...names]);
    const found = new Map<string, { shape: number[]; float: boolean; type: string }>();
    for (const [name, t] of Object.entries(results)) {
      found.set(name, { shape: t.dims.slice(1).map(Number), float: t.type in ELEM_TYPE, type: t.type });
      t.dispose();
    }
    return found;
  } catch (err) {
    throw new OodError('MODEL_INVALID', `${file} with its features added fails on a zero input: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  } finally {
    await session.release();
  }
}

/**
 * The outputs with their element type and shape written out, batch first: model servers (Triton
 * among them) read a model's outputs from the file, and an untyped one is refused or guessed.
 */
function typedOutputs(graph: Onnx.ModelProto, names: readonly string[], shapes: Map<string, { shape: number[]; type: string }>, batchDim: number | string | undefined): Uint8Array {
  const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(graph).finish());
  const g = copy.graph as Onnx.GraphProto;
  const batch = typeof batchDim === 'number' ? { dimValue: batchDim } : { dimParam: typeof batchDim === 'string' && batchDim !== '?' ? batchDim : 'batch' };
  const present = new Map(g.output.map((o, i) => [o.name, i]));
  for (const name of names) {
    const probed = shapes.get(name);
    if (!probed) continue;
    const typed = onnx.ValueInfoProto.create({
      name,
      type: { tensorType: { elemType: ELEM_TYPE[probed.type] ?? 1, shape: { dim: [batch, ...probed.shape.map((d) => ({ dimValue: d }))] } } },
    });
    const at = present.get(name);
    // The model's own outputs keep whatever the exporter wrote; the added ones get their types.
    if (at === undefined) g.output.push(typed);
    else if (!g.output[at].type?.tensorType) g.output[at] = typed;
  }
  return onnx.ModelProto.encode(copy).finish();
}

/** Every feature and the class scores for `rows` packed rows of the model's inputs, from the exported file. */
export class FeatureComputer {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly layout: InputLayout,
    private readonly names: string[],
    private readonly singleRow: boolean,
  ) {}

  static async create(exported: ExportedFeatures): Promise<FeatureComputer> {
    const session = await ort.InferenceSession.create(exported.bytes, { graphOptimizationLevel: 'all', logSeverityLevel: 3 });
    const names = [...new Set([...exported.layers.map((l) => l.output), exported.scores.output])];
    return new FeatureComputer(session, inputLayout(exported.description.inputs), names, exported.singleRow);
  }

  /** Output name -> rows x width, float32, for `rows` packed rows. */
  async compute(packed: Float32Array, rows: number): Promise<Map<string, Float32Array>> {
    const step = this.singleRow ? 1 : 512;
    const parts = new Map<string, Float32Array[]>(this.names.map((n) => [n, []]));
    for (let start = 0; start < rows; start += step) {
      const n = Math.min(step, rows - start);
      const chunk = packed.subarray(start * this.layout.width, (start + n) * this.layout.width);
      const results = await this.session.run(onnxFeed(chunk, n, this.layout), this.names);
      for (const name of this.names) {
        const t = results[name];
        (parts.get(name) as Float32Array[]).push(Float32Array.from(t.data as Float32Array | Float64Array));
      }
      for (const t of Object.values(results)) t.dispose();
    }
    return new Map([...parts].map(([name, chunks]) => [name, concat(chunks)]));
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function concat(chunks: Float32Array[]): Float32Array {
  const out = new Float32Array(chunks.reduce((sum, c) => sum + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
