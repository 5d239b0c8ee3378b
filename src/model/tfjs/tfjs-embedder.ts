import * as tf from '@tensorflow/tfjs';
import { OodError } from '../../errors.js';
import { concatRows, type Matrix } from '../../math/matrix.js';
import { softmaxRowsInPlace } from '../../math/softmax.js';
import { activeBackend } from '../backend.js';
import type { Embedding, EmbeddingModel } from '../embedding.js';
import { INPUT_LAYER, inputSize, type ModelManifest } from '../manifest.js';
import type { ModelInput } from '../model-inputs.js';
import { parseLayer, type PoolOp } from '../layer-spec.js';
import { pool, poolingOf } from './tfjs-pooling.js';

/**
 * One forward pass yields the class probabilities and every indexed layer's activations: a
 * second tfjs model shares the weights and exposes the hidden outputs, so nothing runs twice.
 */
export class TfjsEmbedder implements EmbeddingModel {
  private readonly probe: tf.LayersModel;
  private readonly model: tf.LayersModel;
  private readonly layerNames: string[];
  private readonly inputShape: number[];
  readonly inputSize: number;
  readonly inputs: readonly ModelInput[];
  readonly backend = activeBackend();

  private readonly indexedCount: number;
  private readonly softmax: boolean;
  /** For each hidden output, how it is pooled (undefined: taken whole). */
  private readonly pooling: (PoolOp | undefined)[] = [];

  constructor(model: tf.LayersModel, manifest: ModelManifest, extraLayers: string[] = []) {
    this.model = model;
    this.layerNames = [...manifest.layers, ...extraLayers];
    this.indexedCount = manifest.layers.length;
    this.inputSize = inputSize(manifest);
    if (model.inputs.length !== 1) {
      throw new OodError('MODEL_INVALID', `the model has ${model.inputs.length} inputs; tfjs models with one input are supported`);
    }
    if (manifest.inputs && (manifest.inputs.length !== 1 || manifest.inputs[0].dtype !== 'float32')) {
      throw new OodError('MODEL_INVALID', 'the manifest lists inputs other than one float32 input; a tfjs model takes one float32 input');
    }
    const modelShape = model.inputs[0].shape.slice(1);
    const modelInput = modelShape.reduce<number>((a, b) => a * (b ?? 1), 1);
    if (modelInput !== this.inputSize) {
      throw new OodError('MODEL_INVALID', `manifest input_shape has ${this.inputSize} values, the model takes ${modelInput}`);
    }
    // The manifest may lay the same values out differently (28x28 for an MLP that takes 784, as
    // `train` writes for a reference set of images): the model is fed the shape it declares.
    this.inputShape = modelShape.every((dim): dim is number => dim !== null) ? modelShape : manifest.input_shape;
    const inputName = model.inputLayers[0]?.name ?? INPUT_LAYER;
    if (manifest.inputs && manifest.inputs[0].name !== inputName) {
      throw new OodError('MODEL_INVALID', `the manifest names the input "${manifest.inputs[0].name}", the model "${inputName}"`);
    }
    this.inputs = [{ name: inputName, dtype: 'float32', shape: [...manifest.input_shape] }];
    const outputs: tf.SymbolicTensor[] = [];
    for (const name of this.layerNames) {
      if (name === INPUT_LAYER) continue;
      const spec = parseLayer(name);
      let output: tf.SymbolicTensor;
      try {
        output = model.getLayer(spec.value).output as tf.SymbolicTensor;
      } catch {
        const known = model.layers.map((l) => l.name).join(', ');
        throw new OodError('MODEL_INVALID', `manifest names layer "${spec.value}", the model has: ${known}`);
      }
      outputs.push(output);
      this.pooling.push(spec.pooling ? poolingOf(spec, output.shape.slice(1).map((d) => d ?? 0)) : undefined);
    }
    let classOutput: tf.SymbolicTensor;
    try {
      classOutput = model.getLayer(manifest.output_layer).output as tf.SymbolicTensor;
    } catch {
      throw new OodError('MODEL_INVALID', `manifest output_layer "${manifest.output_layer}" is not in the model`);
    }
    const classes = classOutput.shape[classOutput.shape.length - 1];
    if (classes !== manifest.labels.length) {
      throw new OodError('MODEL_INVALID', `the model outputs ${classes} classes, the manifest lists ${manifest.labels.length} labels`);
    }
    this.probe = tf.model({ inputs: model.inputs, outputs: [classOutput, ...outputs] });
    this.softmax = manifest.output_activation === 'softmax';
  }

  /** `inputs` is rows x inputSize, row-major. Large batches are cut into chunks to bound memory. */
  embed(inputs: Float32Array, rows: number, chunkRows = 2048): Embedding {
    if (rows < 1) throw new OodError('INVALID_INSTANCE', 'at least one row is needed');
    if (inputs.length !== rows * this.inputSize) {
      throw new OodError('INVALID_INSTANCE', `expected ${rows * this.inputSize} values, got ${inputs.length}`);
    }
    const parts: Float32Array[][] = [];
    const widths: number[] = [];
    for (let start = 0; start < rows; start += chunkRows) {
      const n = Math.min(chunkRows, rows - start);
      const chunk = inputs.subarray(start * this.inputSize, (start + n) * this.inputSize);
      const outs = tf.tidy(() => {
        const x = tf.tensor(chunk, [n, ...this.inputShape]);
        const result = this.probe.predict(x);
        const [scores, ...hidden] = Array.isArray(result) ? result : [result];
        return [scores, ...hidden.map((t, j) => pool(t, this.pooling[j]))];
      });
      parts.push(outs.map((t) => t.dataSync() as Float32Array));
      if (widths.length === 0) for (const t of outs) widths.push(t.size / n);
      tf.dispose(outs);
    }
    const joined = widths.map((cols, j) => concatRows(parts.map((p) => p[j]), rows, cols));
    const activations: Matrix[] = [];
    let hidden = 1;
    for (const name of this.layerNames) {
      activations.push(name === INPUT_LAYER ? { data: inputs, rows, cols: this.inputSize } : joined[hidden++]);
    }
    return {
      probabilities: this.softmax ? softmaxRowsInPlace({ ...joined[0], data: Float32Array.from(joined[0].data) }) : joined[0],
      activations: activations.slice(0, this.indexedCount),
      extras: activations.slice(this.indexedCount),
    };
  }

  /** The embedder owns the model it was given: the probe shares its weights. */
  dispose(): void {
    this.model.dispose();
  }
}
