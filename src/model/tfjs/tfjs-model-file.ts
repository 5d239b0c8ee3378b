import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { z } from 'zod';
import { OodError } from '../../errors.js';
import { assertLayerGraphCompletes } from '../layer-graph.js';
import type { ModelManifest } from '../manifest.js';
import { parseJson, writeModelFolder } from '../model-folder.js';

/** The files of a tfjs LayersModel in a model folder. */
export const TFJS_FILES = { topology: 'model.json', weights: 'weights.bin' } as const;

/**
 * The part of model.json read here, checked before it is trusted: a file that is valid JSON but
 * not of this form must be refused by name, not crash the loader with a TypeError. tfjs checks
 * the topology itself when it builds the model.
 */
const TopologyFileSchema = z.looseObject({
  modelTopology: z.looseObject({}),
  weightsManifest: z.array(
    z.looseObject({
      weights: z.array(
        z.looseObject({
          name: z.string(),
          shape: z.array(z.number().int().nonnegative()),
          // The byte count below assumes 4 bytes a value, as these two have.
          dtype: z.enum(['float32', 'int32']),
        }),
      ),
    }),
  ),
});

/**
 * Builds the LayersModel of a model.json and its weights (all shards, in order) read from `dir`;
 * the names are what errors call the files.
 */
export async function buildLayersModel(
  dir: string,
  topologyBuf: Buffer,
  weightsBuf: Buffer,
  names: { topology: string; weights: string } = TFJS_FILES,
): Promise<tf.LayersModel> {
  const topologyFile = join(dir, names.topology);
  const topology = TopologyFileSchema.safeParse(parseJson(topologyBuf, topologyFile));
  if (!topology.success) {
    const issue = topology.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
    throw new OodError('MODEL_INVALID', `${topologyFile}: ${where}: ${issue?.message}`);
  }
  const artifacts = topology.data;
  assertLayerGraphCompletes(artifacts.modelTopology, topologyFile);
  const weightSpecs: tf.io.WeightsManifestEntry[] = artifacts.weightsManifest.flatMap((group) => group.weights);
  const expectedBytes = weightSpecs.reduce((sum, spec) => sum + spec.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (weightsBuf.byteLength !== expectedBytes) {
    throw new OodError(
      'MODEL_INVALID',
      `${join(dir, names.weights)} has ${weightsBuf.byteLength} bytes, the topology needs ${expectedBytes}`,
    );
  }
  try {
    const weightData = weightsBuf.buffer.slice(weightsBuf.byteOffset, weightsBuf.byteOffset + weightsBuf.byteLength);
    return await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: artifacts.modelTopology, weightSpecs, weightData }));
  } catch (err) {
    throw new OodError('MODEL_INVALID', `cannot build the model in ${dir}: ${(err as Error).message}`, { cause: err });
  }
}

/** model.json and weights.bin as tfjs's save handler hands them over. */
export function tfjsArtifactFiles(artifacts: tf.io.ModelArtifacts): Record<string, Uint8Array> {
  const weights = artifacts.weightData;
  if (!weights || Array.isArray(weights)) throw new Error('expected one weight buffer from tfjs');
  const topology = {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [TFJS_FILES.weights], weights: artifacts.weightSpecs }],
  };
  return { [TFJS_FILES.weights]: new Uint8Array(weights), [TFJS_FILES.topology]: Buffer.from(JSON.stringify(topology)) };
}

/** Writes a tfjs model as a model folder: model.json, weights.bin and `extraFiles`, then the manifest. */
export async function saveStoredModel(dir: string, model: tf.LayersModel, manifest: ModelManifest, extraFiles: Record<string, Uint8Array> = {}): Promise<void> {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      await writeModelFolder(dir, { ...tfjsArtifactFiles(artifacts), ...extraFiles }, manifest);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}
