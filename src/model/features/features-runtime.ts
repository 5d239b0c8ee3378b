import { OodError } from '../../errors.js';
import { softmaxRowsInPlace } from '../../math/softmax.js';
import { readNpyShape } from '../../reference/sources/npy.js';
import type { Embedding, EmbeddingModel } from '../embedding.js';
import type { LayerCandidate } from '../layer-choice.js';
import { INPUT_LAYER, inputSize, type ModelManifest } from '../manifest.js';
import type { ModelDescription } from '../model-description.js';
import { writeModelFolder } from '../model-folder.js';
import { gatherInput, inputLayout, inputWidth, type InputLayout, type ModelInput } from '../model-inputs.js';
import type { ModelRuntime } from '../model-runtime.js';

/**
 * A model that runs somewhere else (Triton, KServe, Seldon, TF Serving, a JAX job): the service
 * never sees the model, only what it computed. Every instance brings each indexed layer's
 * activations and the class scores as named inputs, so the packed row (model-inputs.ts) is
 * those values side by side and "running the model" is cutting the row apart again. The same
 * graphs, densities and calibration are built over them as over a model run here.
 *
 * What add-model describes is a list of .npy files, one per layer and one of class scores, all
 * holding the same reference rows, written as a spec:
 *
 *   LAYER=acts.npy[,LAYER=acts.npy...];logits:NAME=scores.npy   (or probabilities:NAME=...)
 *
 * NAME is the input the class scores arrive as: the model server's own output name.
 */

export type ClassScoreKind = 'logits' | 'probabilities';

export interface FeaturesSpec {
  layers: { name: string; file: string }[];
  scores: { kind: ClassScoreKind; name: string; file: string };
}

const PAIR = /^([^=,;]+)=([^,;]+)$/;
const SCORES = /^(logits|probabilities):([^=,;]+)=([^,;]+)$/;

/** The spec add-model's --features and --logits or --probabilities make, and describe reads. */
export function featuresSpec(spec: FeaturesSpec): string {
  const layers = spec.layers.map((l) => `${l.name}=${l.file}`).join(',');
  return `${layers};${spec.scores.kind}:${spec.scores.name}=${spec.scores.file}`;
}

export function parseFeaturesSpec(text: string): FeaturesSpec {
  const at = text.lastIndexOf(';');
  const bad = (why: string) => new OodError('CONFIG_INVALID', `features ${text}: ${why}`);
  if (at < 0) throw bad('name the class scores too (--logits FILE or --probabilities FILE)');
  const scores = SCORES.exec(text.slice(at + 1));
  if (!scores) throw bad('the class scores must be logits:NAME=FILE.npy or probabilities:NAME=FILE.npy');
  const layers = text
    .slice(0, at)
    .split(',')
    .map((pair) => {
      const m = PAIR.exec(pair);
      if (!m) throw bad(`"${pair}" is not LAYER=FILE.npy`);
      return { name: m[1], file: m[2] };
    });
  const names = [...layers.map((l) => l.name), scores[2]];
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw bad(`"${twice}" is named twice; every layer, and the class scores, need a name of their own`);
  // "input" is the raw input's name in a manifest's layers, with a meaning of its own.
  if (names.includes(INPUT_LAYER)) throw bad(`"${INPUT_LAYER}" names the raw input in a manifest; give the feature another name (e.g. input:raw)`);
  return { layers, scores: { kind: scores[1] as ClassScoreKind, name: scores[2], file: scores[3] } };
}

/** Each file's rows and per-row shape, from its header; all must hold the same rows. */
async function shapesOf(spec: FeaturesSpec): Promise<Map<string, number[]>> {
  const shapes = new Map<string, number[]>();
  let first: { file: string; rows: number } | undefined;
  for (const { name, file } of [...spec.layers, spec.scores]) {
    const { dtype, shape } = await readNpyShape(file);
    if (!/^[<=]f[48]$/.test(dtype)) throw new OodError('DATA_INVALID', `${file} holds ${dtype}; activations and class scores must be float32 or float64`);
    if (shape.length < 2) throw new OodError('DATA_INVALID', `${file} has shape [${shape.join(', ')}]; "${name}" needs one row of values per instance, [N, ...]`);
    if (first && shape[0] !== first.rows) {
      throw new OodError('DATA_INVALID', `${file} holds ${shape[0]} rows but ${first.file} holds ${first.rows}: every file holds the same reference rows, in the same order`);
    }
    first ??= { file, rows: shape[0] };
    shapes.set(name, shape.slice(1));
  }
  const classes = shapes.get(spec.scores.name) as number[];
  if (classes.length !== 1 || classes[0] < 2) {
    throw new OodError('DATA_INVALID', `${spec.scores.file} has [${classes.join(', ')}] values per row; class scores are one value per class, [N, classes], at least two classes`);
  }
  return shapes;
}

export async function describeFeatures(text: string): Promise<ModelDescription> {
  const spec = parseFeaturesSpec(text);
  const shapes = await shapesOf(spec);
  const { scores } = spec;
  const layerInputs: ModelInput[] = spec.layers.map(({ name }) => ({ name, dtype: 'float32', shape: shapes.get(name) as number[] }));
  const classes = (shapes.get(scores.name) as number[])[0];
  const inputs: ModelInput[] = [...layerInputs, { name: scores.name, dtype: 'float32', shape: [classes], ...(scores.kind === 'probabilities' ? { probabilities: true as const } : {}) }];
  const { width } = inputLayout(inputs);
  const candidates: LayerCandidate[] = layerInputs.map((i) => ({ name: i.name, op: 'feature', shape: i.shape, width: inputWidth(i), role: 'representation' }));
  return {
    runtime: 'features',
    file: text,
    inputs,
    input: { name: inputs[0].name, shape: [width], width },
    outputs: [{ name: scores.name, shape: [classes] }],
    classOutput: {
      name: scores.name,
      classes,
      activation: scores.kind === 'logits' ? 'softmax' : 'none',
      why: scores.kind === 'logits' ? 'given as logits: softmax applied' : 'given as probabilities',
      declared: true,
    },
    candidates,
    values: layerInputs.map((i) => i.name),
    defaults: { layers: layerInputs.map((i) => i.name), reasons: candidates.map((c) => `${c.name}: given with --features, ${c.width} values per instance`) },
  };
}

/**
 * The packed row cut into its layers and class scores. Inputs come from the manifest; the class
 * scores are marked as probabilities when the manifest applies no softmax, so every request's
 * scores are checked to be probabilities where they enter (http/plugins/scoring.ts).
 */
export class FeaturesEmbedder implements EmbeddingModel {
  readonly inputSize: number;
  readonly inputs: readonly ModelInput[];
  readonly backend = 'none: features from the model server';
  private readonly layout: InputLayout;
  /** Per indexed layer and extra layer, the input that carries it (-1: the whole packed row). */
  private readonly layerInputs: number[];
  private readonly indexedCount: number;
  private readonly scoresAt: number;
  private readonly softmax: boolean;

  constructor(manifest: ModelManifest, extraLayers: string[] = [], file = 'manifest.json') {
    const invalid = (why: string) => new OodError('MODEL_INVALID', `${file}: ${why}`);
    if (!manifest.inputs) throw invalid('a features model lists its inputs: every layer, then the class scores');
    this.softmax = manifest.output_activation === 'softmax';
    const names = manifest.inputs.map((i) => i.name);
    this.scoresAt = names.indexOf(manifest.output_layer);
    if (this.scoresAt < 0) throw invalid(`output_layer "${manifest.output_layer}" is none of the inputs (${names.join(', ')})`);
    this.inputs = manifest.inputs.map((i, j) => {
      if (i.dtype !== 'float32') throw invalid(`input "${i.name}" is ${i.dtype}; activations and class scores are float32`);
      // output_activation decides; a mark it contradicts is a hand edit gone wrong. (A mark left
      // out is what onboarding's probe does, reading the raw scores of logits.)
      const probabilities = j === this.scoresAt && !this.softmax;
      if (i.probabilities && !probabilities) {
        throw invalid(`input "${i.name}" is marked as probabilities, but ${j === this.scoresAt ? 'output_activation is softmax (logits)' : 'it is not the class scores'}`);
      }
      const input: ModelInput = { name: i.name, dtype: i.dtype, shape: [...i.shape] };
      return probabilities ? { ...input, probabilities: true } : input;
    });
    this.layout = inputLayout(this.inputs);
    this.inputSize = inputSize(manifest);
    if (this.layout.width !== this.inputSize) throw invalid(`the inputs hold ${this.layout.width} values per instance; input_shape says ${this.inputSize}`);
    const classes = inputWidth(this.inputs[this.scoresAt]);
    if (classes !== manifest.labels.length) throw invalid(`class scores "${manifest.output_layer}" hold ${classes} values; the manifest lists ${manifest.labels.length} labels`);
    this.indexedCount = manifest.layers.length;
    // The raw input of a features model is the packed row itself (what a probe indexes).
    this.layerInputs = [...manifest.layers, ...extraLayers].map((layer) => {
      if (layer === INPUT_LAYER && !names.includes(layer)) return -1;
      const at = names.indexOf(layer);
      if (at < 0) throw invalid(`layer "${layer}" is none of the inputs (${names.join(', ')})`);
      return at;
    });
  }

  embed(inputs: Float32Array, rows: number): Embedding {
    if (rows < 1) throw new OodError('INVALID_INSTANCE', 'at least one row is needed');
    if (inputs.length !== rows * this.inputSize) throw new OodError('INVALID_INSTANCE', `expected ${rows * this.inputSize} values, got ${inputs.length}`);
    const part = (j: number) => ({ data: gatherInput(inputs, rows, this.layout, j), rows, cols: inputWidth(this.inputs[j]) });
    const scores = part(this.scoresAt);
    // The softmax goes into a copy: the scores' rows are the caller's when they are the only input.
    const probabilities = this.softmax ? softmaxRowsInPlace({ ...scores, data: Float32Array.from(scores.data) }) : scores;
    const activations = this.layerInputs.map((j) => (j < 0 ? { data: inputs, rows, cols: this.inputSize } : part(j)));
    return { probabilities, activations: activations.slice(0, this.indexedCount), extras: activations.slice(this.indexedCount) };
  }

  dispose(): void {
    // Nothing is held but the manifest's layout.
  }
}

export const featuresRuntime: ModelRuntime = {
  title: 'features',
  fileHint: 'activation files (add-model --features LAYER=acts.npy,... --logits FILE | --probabilities FILE)',
  keptAs: 'The model itself runs elsewhere, on its owners\' model server, and no model file is kept here: every request brings the indexed layers\' activations and the class scores',
  capabilities: { gradients: false, pooledLayers: false, inputTypes: 'float32-only' },
  files: [],
  matches: (spec) => /;(logits|probabilities):[^;]+$/.test(spec),
  prepare: async () => undefined,
  async describe(spec) {
    const description = await describeFeatures(spec);
    return {
      description,
      probe: async (manifest) => new FeaturesEmbedder(manifest, [], spec),
      save: (dir, manifest, extraFiles = {}) => writeModelFolder(dir, extraFiles, manifest),
      dispose: () => undefined,
    };
  },
  open: async (dir, _files, manifest, extraLayers) => new FeaturesEmbedder(manifest, extraLayers, `${dir}/manifest.json`),
};
