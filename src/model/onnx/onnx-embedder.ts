import * as ort from 'onnxruntime-node';
import { OodError } from '../../errors.js';
import { concatRows, type Matrix } from '../../math/matrix.js';
import { softmaxRowsInPlace } from '../../math/softmax.js';
import type { Embedding, EmbeddingModel } from '../embedding.js';
import { INPUT_LAYER, inputSize, type ModelManifest } from '../manifest.js';
import { inputLayout, inputWidth, type InputLayout, type ModelInput } from '../model-inputs.js';
import { decodeModel, graphInfo, OnnxFormatError, withOutputs, type OnnxGraphInfo } from './onnx-graph.js';
import { onnxFeed, onnxInputs, type OnnxInputs } from './onnx-inputs.js';
import { withPooledOutputs } from './onnx-pooling.js';
import { probeValues } from './onnx-probe.js';
import { parseLayer, poolOp, type LayerSpec } from '../layer-spec.js';
import type { onnx as Onnx } from 'onnx-proto';

/** Rows per onnxruntime call: bounds the memory of the hidden outputs of a large batch. */
const CHUNK_ROWS = 1024;

/**
 * The graph's inputs, checked against what the manifest declares: the same names, order and
 * element types, and as many values per instance. Free dimensions take the manifest's shapes.
 */
function checkedInputs(info: OnnxGraphInfo, manifest: ModelManifest): OnnxInputs {
  const declared = manifest.inputs;
  if (!declared && info.inputs.length !== 1) {
    throw new OnnxFormatError(`takes ${info.inputs.length} inputs (${info.inputs.map((i) => i.name).join(', ')}); the manifest lists no inputs`);
  }
  const given = declared ? Object.fromEntries(declared.map((i) => [i.name, i.shape])) : manifest.input_shape;
  const found = onnxInputs(info, given);
  if (declared) {
    const show = (inputs: readonly ModelInput[]) => inputs.map((i) => `${i.name} (${i.dtype})`).join(', ');
    const same = declared.length === found.inputs.length && declared.every((d, i) => d.name === found.inputs[i].name && d.dtype === found.inputs[i].dtype);
    if (!same) throw new OnnxFormatError(`takes ${show(found.inputs)}; the manifest's inputs are ${show(declared)}`);
    found.inputs.forEach((input, i) => {
      if (inputWidth(input) !== inputWidth(declared[i])) {
        throw new OnnxFormatError(`takes [${input.shape.join(', ')}] per instance for "${input.name}"; the manifest says [${declared[i].shape.join(', ')}]`);
      }
    });
    return { inputs: declared.map((d) => ({ ...d })), singleRow: found.singleRow };
  }
  return found;
}

/** The input whose zeros mark padding tokens, for pooling over tokens. */
export function maskInput(manifest: Pick<ModelManifest, 'text'>, inputs: readonly ModelInput[]): string | undefined {
  return manifest.text?.fields.attention_mask ?? inputs.find((i) => i.name === 'attention_mask')?.name;
}

/**
 * The graph with every pooled layer added as an output. Which pooling applies depends on the
 * value's shape, which many files do not record: one zero instance through the graph finds it.
 */
export async function pooledGraph(model: Onnx.ModelProto, specs: LayerSpec[], inputs: readonly ModelInput[], mask: string | undefined, opset: number): Promise<Onnx.ModelProto> {
  const pooled = specs.filter((s) => s.pooling);
  if (pooled.length === 0) return model;
  const shapes = await probeValues(model, [...new Set(pooled.map((s) => s.value))], inputs);
  const layers = pooled.map((spec) => {
    // ONNX's Conv lays maps out channels first; a map's own shape may say otherwise.
    const op = poolOp(spec, shapes.get(spec.value)?.shape ?? [], 'chw');
    if (typeof op === 'object' && 'problem' in op) throw new OnnxFormatError(op.problem);
    return { spec, op };
  });
  return withPooledOutputs(model, { layers, maskInput: mask, opset });
}

/**
 * An ONNX model on onnxruntime, opened from an in-memory copy whose graph also outputs every
 * indexed layer. The class output and the layers come back from one run.
 */
export class OnnxEmbedder implements EmbeddingModel {
  readonly inputSize: number;
  readonly inputs: readonly ModelInput[];
  readonly backend = 'onnxruntime-cpu';
  private readonly session: ort.InferenceSession;
  private readonly layout: InputLayout;
  private readonly singleRow: boolean;
  private readonly fetches: string[];
  private readonly layerNames: string[];
  private readonly indexedCount: number;
  private readonly softmax: boolean;

  private constructor(session: ort.InferenceSession, input: OnnxInputs, manifest: ModelManifest, extraLayers: string[]) {
    this.session = session;
    this.inputs = input.inputs;
    this.layout = inputLayout(input.inputs);
    this.singleRow = input.singleRow;
    this.inputSize = inputSize(manifest);
    this.layerNames = [...manifest.layers, ...extraLayers];
    this.indexedCount = manifest.layers.length;
    // A layer may be the class output itself (logits indexed as a layer): each is fetched once.
    this.fetches = [...new Set([manifest.output_layer, ...this.layerNames.filter((l) => l !== INPUT_LAYER)])];
    this.softmax = manifest.output_activation === 'softmax';
  }

  /** `file` names the model in errors. Checks every named layer and the class count before returning. */
  static async create(bytes: Uint8Array, manifest: ModelManifest, file: string, extraLayers: string[] = []): Promise<OnnxEmbedder> {
    const invalid = (why: string, cause?: unknown) => new OodError('MODEL_INVALID', `${file} ${why}`, { cause });
    let model;
    let input: OnnxInputs;
    try {
      model = decodeModel(bytes);
      input = checkedInputs(graphInfo(model), manifest);
    } catch (err) {
      if (err instanceof OnnxFormatError) throw invalid(err.message, err);
      throw err;
    }
    const info = graphInfo(model);
    const known = new Set([...info.values.map((v) => v.name), ...info.outputs.map((o) => o.name)]);
    const specs = [...manifest.layers, ...extraLayers].filter((l) => l !== INPUT_LAYER).map(parseLayer);
    for (const { value } of [parseLayer(manifest.output_layer), ...specs]) {
      if (!known.has(value)) {
        const outputs = info.outputs.map((o) => o.name).join(', ');
        throw invalid(
          `has no value named "${value}" (graph outputs: ${outputs}; \`npm run ood -- inspect ${file}\` lists the layers)`,
        );
      }
    }
    const declared = inputLayout(input.inputs).width;
    if (declared !== inputSize(manifest)) {
      const shapes = input.inputs.map((i) => `[${i.shape.join(', ')}]`).join(' + ');
      throw invalid(`takes ${shapes} (${declared} values) per instance; the manifest's input_shape has ${inputSize(manifest)}`);
    }
    let graph = model;
    try {
      graph = await pooledGraph(model, specs, input.inputs, maskInput(manifest, input.inputs), info.opset);
    } catch (err) {
      if (err instanceof OnnxFormatError) throw invalid(err.message, err);
      throw err;
    }
    const exposed = withOutputs(graph, [manifest.output_layer, ...specs.filter((s) => !s.pooling).map((s) => s.value)]);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(exposed, { graphOptimizationLevel: 'all', logSeverityLevel: 4 });
    } catch (err) {
      throw invalid(`cannot be opened by onnxruntime: ${(err as Error).message.split('\n')[0]}`, err);
    }
    const embedder = new OnnxEmbedder(session, input, manifest, extraLayers);
    // One zero row through the graph: the class count and every layer's shape are checked now,
    // with the file named, rather than on the first request. Zero is a valid value of every
    // input type (a padding token id, an empty mask).
    let probe: Embedding;
    try {
      probe = await embedder.embed(new Float32Array(embedder.inputSize), 1);
    } catch (err) {
      await session.release();
      throw invalid(`fails on a zero input: ${(err as Error).message.split('\n')[0]}`, err);
    }
    if (probe.probabilities.cols !== manifest.labels.length) {
      await session.release();
      throw invalid(`outputs ${probe.probabilities.cols} classes from "${manifest.output_layer}"; the manifest lists ${manifest.labels.length} labels`);
    }
    return embedder;
  }

  async embed(inputs: Float32Array, rows: number): Promise<Embedding> {
    if (rows < 1) throw new OodError('INVALID_INSTANCE', 'at least one row is needed');
    if (inputs.length !== rows * this.inputSize) {
      throw new OodError('INVALID_INSTANCE', `expected ${rows * this.inputSize} values, got ${inputs.length}`);
    }
    const step = this.singleRow ? 1 : CHUNK_ROWS;
    const parts: Float32Array[][] = [];
    const widths: number[] = [];
    for (let start = 0; start < rows; start += step) {
      const n = Math.min(step, rows - start);
      const chunk = inputs.subarray(start * this.inputSize, (start + n) * this.inputSize);
      const feed = onnxFeed(chunk, n, this.layout);
      const results = await this.run(feed);
      const outs = this.fetches.map((name) => results[name]);
      if (widths.length === 0) for (const t of outs) widths.push(t.size / n);
      parts.push(outs.map((t) => floatData(t)));
      for (const t of Object.values(results)) t.dispose();
    }
    const joined = new Map(this.fetches.map((name, j) => [name, concatRows(parts.map((p) => p[j]), rows, widths[j])]));
    const scores = joined.get(this.fetches[0]) as Matrix;
    const probabilities = this.softmax ? softmaxRowsInPlace({ ...scores, data: Float32Array.from(scores.data) }) : scores;
    const activations: Matrix[] = this.layerNames.map((name) =>
      name === INPUT_LAYER ? { data: inputs, rows, cols: this.inputSize } : (joined.get(name) as Matrix),
    );
    return { probabilities, activations: activations.slice(0, this.indexedCount), extras: activations.slice(this.indexedCount) };
  }

  /**
   * Inputs of the right types can still be values a model cannot take (a token id beyond its
   * vocabulary, a category code beyond its table): onnxruntime's refusal is the client's to see,
   * as a 422, not a server error; its log line to stderr is turned off with the session's.
   */
  private async run(feed: Record<string, ort.Tensor>): Promise<ort.InferenceSession.ReturnType> {
    try {
      return await this.session.run(feed, this.fetches, { logSeverityLevel: 4 });
    } catch (err) {
      const reason = (err as Error).message.split('\n')[0].slice(0, 300);
      throw new OodError('MODEL_REFUSED_INPUT', `the model cannot run on these inputs: ${reason}`, { cause: err });
    }
  }

  dispose(): void {
    // Releasing twice, or after onnxruntime failed, must not become an unhandled rejection.
    this.session.release().catch(() => undefined);
  }
}

/** A copy as float32: the tensor's buffer belongs to onnxruntime and is freed with it. */
export function floatData(t: ort.Tensor): Float32Array {
  if (t.type === 'float32') return Float32Array.from(t.data as Float32Array);
  if (t.type === 'float64') return Float32Array.from(t.data as Float64Array);
  throw new OodError('MODEL_INVALID', `an output of type ${t.type} cannot be indexed; only float outputs can`);
}
