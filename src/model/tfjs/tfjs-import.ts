import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { chooseLayers, pooledCandidates, type LayerCandidate, type LayerRole } from '../layer-choice.js';
import { INPUT_LAYER } from '../manifest.js';
import { parseJson } from '../model-folder.js';
import type { ModelDescription } from '../model-description.js';
import type { GivenShapes } from '../onnx/onnx-inputs.js';
import { buildLayersModel } from './tfjs-model-file.js';

/**
 * A tfjs LayersModel as the converter writes it (model.json plus weight shards beside it, as
 * `tensorflowjs_converter` makes from Keras), read without tfjs-node's file handlers and built
 * with the same checks as a stored model.
 */
export async function readTfjsModel(modelJson: string): Promise<tf.LayersModel> {
  const topology = await readFile(modelJson);
  const json = parseJson(topology, modelJson) as { weightsManifest?: { paths?: unknown }[] };
  const paths = (Array.isArray(json?.weightsManifest) ? json.weightsManifest : []).flatMap((g) => (Array.isArray(g.paths) ? g.paths : []));
  const dir = dirname(modelJson);
  const shards: Buffer[] = [];
  for (const path of paths) {
    if (typeof path !== 'string' || /[/\\]/.test(path) || path === '..') throw new Error(`names weight shard ${JSON.stringify(path)} outside its folder`);
    shards.push(await readFile(join(dir, path)));
  }
  return buildLayersModel(dir, topology, Buffer.concat(shards), { topology: basename(modelJson), weights: paths.join(' + ') || '(no weight files)' });
}

const POOLED = /Pooling|Flatten/;
const SHAPERS = /Dropout|Reshape|InputLayer|Normalization/;

function layerRole(layer: tf.layers.Layer): LayerRole {
  const name = layer.getClassName();
  if (POOLED.test(name)) return 'pooled';
  const activation = (layer.getConfig() as { activation?: string }).activation;
  if (name === 'Activation' || /ReLU|ELU|Softmax/.test(name)) return 'representation';
  if (activation !== undefined) return activation === 'linear' ? 'linear' : 'representation';
  return SHAPERS.test(name) ? 'other' : 'linear';
}

/** The same description `inspect` gives of an ONNX model. */
export function describeTfjs(model: tf.LayersModel, file: string, givenShape?: GivenShapes): ModelDescription {
  const perInstance = (shape: (number | null)[]) => shape.slice(1).map((d) => d ?? 0);
  if (model.inputs.length !== 1) {
    throw new Error(`has ${model.inputs.length} inputs; tfjs models with one input are supported (export a model with several to ONNX)`);
  }
  if (givenShape !== undefined && !Array.isArray(givenShape)) throw new Error('has one input: give --input-shape as one shape, e.g. 1,28,28');
  const declared = model.inputs[0].shape.slice(1);
  if (declared.some((d) => d === null) && !givenShape) {
    throw new Error(`its input has free dimensions [${declared.map((d) => d ?? '?').join(', ')}]; give --input-shape`);
  }
  const inputShape = declared.some((d) => d === null) ? [...(givenShape as readonly number[])] : perInstance(model.inputs[0].shape);
  const width = inputShape.reduce((a, b) => a * b, 1);
  const output = model.outputs[0];
  const outputLayer = model.layers.find((l) => l.output === output) ?? model.layers[model.layers.length - 1];
  const outputShape = perInstance(output.shape);
  const plain: LayerCandidate[] = model.layers
    .filter((l) => l !== outputLayer && l.getClassName() !== 'InputLayer')
    .map((l) => {
      const shape = perInstance((l.output as tf.SymbolicTensor).shape);
      return { name: l.name, op: l.getClassName(), shape, width: shape.reduce((a, b) => a * b, 1), role: layerRole(l) };
    });
  // tfjs lays feature maps out channels last; a Keras model has no residual stream to tell.
  const candidates = pooledCandidates(plain, () => false, 'hwc');
  const softmaxed = (outputLayer.getConfig() as { activation?: string }).activation === 'softmax';
  return {
    runtime: 'tfjs',
    file,
    inputs: [{ name: model.inputLayers[0]?.name ?? model.inputs[0].name, dtype: 'float32', shape: inputShape }],
    input: { name: model.inputs[0].name, shape: inputShape, width },
    outputs: model.outputs.map((o) => ({ name: o.name, shape: perInstance(o.shape) })),
    classOutput: {
      name: outputLayer.name,
      classes: outputShape[outputShape.length - 1],
      activation: softmaxed ? 'none' : 'softmax',
      why: softmaxed ? 'its activation is softmax: probabilities' : 'its activation is not softmax: taken as logits, softmax applied',
    },
    candidates,
    values: model.layers.map((l) => l.name),
    defaults: chooseLayers(candidates, width, INPUT_LAYER),
  };
}
