import * as tf from '@tensorflow/tfjs';
import { OodError } from '../errors.js';
import { rowRange, type Matrix } from '../math/matrix.js';
import { INPUT_LAYER } from '../model/manifest.js';
import type { LabeledData } from '../reference/sources/labeled-data.js';
import { entanglementByLayer, type EntanglementOptions, type LayerEntanglement } from './entanglement.js';

/**
 * The activations of `layerNames` for the rows of `x`, one flattened matrix per layer, from one
 * forward pass per chunk. "input" names the raw input. Works on any LayersModel, also one in the
 * middle of training: the probe model shares its weights and owns none, so it is never disposed.
 */
export function layerActivations(model: tf.LayersModel, layerNames: string[], x: Matrix, chunkRows = 1024): Matrix[] {
  const hidden = layerNames.filter((name) => name !== INPUT_LAYER);
  const probe = tf.model({ inputs: model.inputs, outputs: hidden.map((name) => layerOutput(model, name)) });
  const inputShape = model.inputs[0].shape.slice(1).map((d) => d ?? 1);
  const widths = probe.outputs.map((o) => o.shape.slice(1).reduce<number>((a, b) => a * (b ?? 1), 1));
  const out = widths.map((cols) => ({ data: new Float32Array(x.rows * cols), rows: x.rows, cols }));
  for (let start = 0; start < x.rows && hidden.length > 0; start += chunkRows) {
    const n = Math.min(chunkRows, x.rows - start);
    const outputs = tf.tidy(() => {
      const input = tf.tensor(Float32Array.from(rowRange(x, start, n).data), [n, ...inputShape]);
      const result = probe.predict(input);
      return Array.isArray(result) ? result : [result];
    });
    outputs.forEach((t, l) => out[l].data.set(t.dataSync(), start * widths[l]));
    tf.dispose(outputs);
  }
  let next = 0;
  return layerNames.map((name) => (name === INPUT_LAYER ? x : out[next++]));
}

function layerOutput(model: tf.LayersModel, name: string): tf.SymbolicTensor {
  try {
    return model.getLayer(name).output as tf.SymbolicTensor;
  } catch {
    throw new OodError('MODEL_INVALID', `no layer "${name}" in the model; it has: ${model.layers.map((l) => l.name).join(', ')}`);
  }
}

/**
 * SNNL (at T* by default) of each named layer of `model` on labelled data: the analytical use of
 * SNNL (docs/design.md §1), cheap enough to run after every training epoch on a ~1000-point sample.
 */
export function modelLayerEntanglement(
  model: tf.LayersModel,
  layerNames: string[],
  data: LabeledData,
  options: EntanglementOptions = {},
): LayerEntanglement[] {
  const activations = layerActivations(model, layerNames, data.x);
  return entanglementByLayer(
    layerNames.map((name, l) => ({ name, x: activations[l] })),
    data.labels,
    options,
  );
}
