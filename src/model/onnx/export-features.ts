import onnxProto, { type onnx as Onnx } from 'onnx-proto';
import { OodError } from '../../errors.js';
import type { ClassScoreKind } from '../features/features-runtime.js';
import { parseLayer } from '../layer-spec.js';
import { INPUT_LAYER } from '../manifest.js';
import type { ModelDescription } from '../model-description.js';
import { describeOnnx } from './describe-onnx.js';
import { maskInput, pooledGraph } from './onnx-embedder.js';
import { decodeModel, graphInfo, OnnxFormatError } from './onnx-graph.js';
import { onnxInputs, type GivenShapes } from './onnx-inputs.js';
import { probeValues, type ProbedValue } from './onnx-probe.js';

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
  /** The model's other tensor outputs, returned as before (a label, say): a model server's config lists them too. */
  otherOutputs: { name: string; shape: number[]; dtype: string }[];
  /** Whether the file fixes the batch at one instance per run. */
  singleRow: boolean;
}

/** ONNX element types of the outputs an exported file may type. */
const ELEM_TYPE: Record<string, number> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11 };
/** What a features model can take: float16 activations would reach it as their raw bits. */
const FEATURE_TYPES = new Set(['float32', 'float64']);

export interface ExportOptions {
  inputShape?: GivenShapes;
  /** A text model's settings, for the input whose zeros mark padding tokens. */
  text?: { fields: { attention_mask?: string } };
}

/** `layers` as add-model names them; absent, the layers add-model would index by default. */
export async function exportFeatures(bytes: Uint8Array, file: string, chosen: readonly string[] | undefined, options: ExportOptions = {}): Promise<ExportedFeatures> {
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
  const layers = chosen ?? description.defaults.layers;
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
  // The model's own tensor outputs stay as they were; sequences of maps (ZipMap) cannot be fetched.
  const own = info.outputs.filter((o) => o.elemType !== 0 && o.name !== scoresName).map((o) => o.name);
  const outputs = [...new Set([...features.map((f) => f.output), scoresName, ...own])];
  let shapes: Map<string, ProbedValue>;
  try {
    shapes = await probeValues(graph, outputs, inputs);
  } catch (err) {
    if (err instanceof OnnxFormatError) throw new OodError('MODEL_INVALID', `${file} with its features added ${err.message}`, { cause: err });
    throw err;
  }
  for (const f of features) {
    const type = shapes.get(f.output)?.type;
    if (!type || !FEATURE_TYPES.has(type)) throw new OodError('CONFIG_INVALID', `layer "${f.layer}" of ${file} is ${type ?? 'not a tensor'}; only float32 or float64 values can be features`);
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
    otherOutputs: own.filter((name) => !features.some((f) => f.output === name)).map((name) => ({ name, shape: shapes.get(name)?.shape ?? [], dtype: shapes.get(name)?.type ?? 'float32' })),
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
    if (layer === description.classOutput.name) {
      throw new OodError('CONFIG_INVALID', `--layers names "${layer}", the class scores: a features model receives them as its class scores already; leave them out of --layers`);
    }
    if (!values.has(parseLayer(layer).value)) {
      throw new OodError('CONFIG_INVALID', `--layers names "${layer}", which ${file} does not have (\`npm run ood -- inspect ${file}\` lists its layers)`);
    }
  }
}

/**
 * The outputs with their element type and shape written out, batch first: model servers (Triton
 * among them) read a model's outputs from the file, and an untyped one is refused or guessed.
 */
function typedOutputs(graph: Onnx.ModelProto, names: readonly string[], shapes: Map<string, ProbedValue>, batchDim: number | string | undefined): Uint8Array {
  const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(graph).finish());
  const g = copy.graph as Onnx.GraphProto;
  const batch = typeof batchDim === 'number' ? { dimValue: batchDim } : { dimParam: typeof batchDim === 'string' && batchDim !== '?' ? batchDim : 'batch' };
  const present = new Map(g.output.map((o, i) => [o.name, i]));
  for (const name of names) {
    const probed = shapes.get(name);
    if (!probed) continue;
    const elemType = ELEM_TYPE[probed.type];
    if (elemType === undefined) continue;
    const typed = onnx.ValueInfoProto.create({
      name,
      type: { tensorType: { elemType, shape: { dim: [batch, ...probed.shape.map((d) => ({ dimValue: d }))] } } },
    });
    const at = present.get(name);
    // The model's own outputs keep whatever the exporter wrote; the added ones get their types.
    if (at === undefined) g.output.push(typed);
    else if (!g.output[at].type?.tensorType) g.output[at] = typed;
  }
  return onnx.ModelProto.encode(copy).finish();
}
