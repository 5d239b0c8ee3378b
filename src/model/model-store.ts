import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../atomic-write.js';
import { OodError } from '../errors.js';
import { assertLayerGraphCompletes } from './layer-graph.js';
import { NAME_PATTERN, StoredManifestSchema, type ModelManifest, type StoredManifest } from './manifest.js';

/**
 * Reads and writes `models/<name>/`: model.json (tfjs topology + weight specs), weights.bin and
 * manifest.json. tfjs's own file:// handlers live in tfjs-node, which is optional, so the
 * artifacts go through memory handlers here.
 */
export const MODEL_FILES = { topology: 'model.json', weights: 'weights.bin', manifest: 'manifest.json' } as const;

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

export interface StoredModel {
  model: tf.LayersModel;
  manifest: StoredManifest;
  /** sha256 over topology, weights and manifest: part of every cache key built on this model. */
  fingerprint: string;
  dir: string;
}

export function modelDir(modelsDir: string, name: string): string {
  if (!NAME_PATTERN.test(name)) {
    throw new OodError('CONFIG_INVALID', `model name "${name}" must match ${NAME_PATTERN}`);
  }
  return join(modelsDir, name);
}

async function readModelFile(dir: string, file: string): Promise<Buffer> {
  try {
    return await readFile(join(dir, file));
  } catch (err) {
    throw new OodError('MODEL_INVALID', `cannot read ${join(dir, file)}: ${(err as Error).message}`, { cause: err });
  }
}

function parseJson(buf: Buffer, path: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new OodError('MODEL_INVALID', `${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** What manifest.json records of an artifact, and what loading checks it against. */
export function digestOf(bytes: Uint8Array) {
  return { sha256: sha256(bytes), bytes: bytes.byteLength };
}

function verifyDigest(dir: string, file: keyof StoredManifest['files'], bytes: Buffer, files: StoredManifest['files']): void {
  const expected = files[file];
  const actual = digestOf(bytes);
  if (actual.sha256 === expected.sha256 && actual.bytes === expected.bytes) return;
  throw new OodError(
    'MODEL_INVALID',
    `${join(dir, file)} fails its checksum (${actual.bytes} bytes, sha256 ${actual.sha256.slice(0, 12)}…; ` +
      `${MODEL_FILES.manifest} says ${expected.bytes} bytes, ${expected.sha256.slice(0, 12)}…): it changed after it was written; restore or retrain it`,
  );
}

export async function loadStoredModel(modelsDir: string, name: string): Promise<StoredModel> {
  const dir = modelDir(modelsDir, name);
  // Read together, but report the first missing file in a fixed order, so the message is stable.
  const reads = await Promise.allSettled([
    readModelFile(dir, MODEL_FILES.topology),
    readModelFile(dir, MODEL_FILES.weights),
    readModelFile(dir, MODEL_FILES.manifest),
  ]);
  const failed = reads.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  const [topologyBuf, weightsBuf, manifestBuf] = reads.map((r) => (r as PromiseFulfilledResult<Buffer>).value);
  const parsed = StoredManifestSchema.safeParse(parseJson(manifestBuf, join(dir, MODEL_FILES.manifest)));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new OodError('MODEL_INVALID', `${join(dir, MODEL_FILES.manifest)}: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  const manifest = parsed.data;
  if (manifest.name !== name) {
    throw new OodError('MODEL_INVALID', `${join(dir, MODEL_FILES.manifest)} names model "${manifest.name}", expected "${name}"`);
  }
  verifyDigest(dir, MODEL_FILES.topology, topologyBuf, manifest.files);
  verifyDigest(dir, MODEL_FILES.weights, weightsBuf, manifest.files);
  const topologyFile = join(dir, MODEL_FILES.topology);
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
      `${join(dir, MODEL_FILES.weights)} has ${weightsBuf.byteLength} bytes, the topology needs ${expectedBytes}`,
    );
  }
  let model: tf.LayersModel;
  try {
    const weightData = weightsBuf.buffer.slice(weightsBuf.byteOffset, weightsBuf.byteOffset + weightsBuf.byteLength);
    model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: artifacts.modelTopology, weightSpecs, weightData }));
  } catch (err) {
    throw new OodError('MODEL_INVALID', `cannot build the model in ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const fingerprint = createHash('sha256').update(topologyBuf).update(weightsBuf).update(manifestBuf).digest('hex');
  return { model, manifest, fingerprint, dir };
}

export async function saveStoredModel(dir: string, model: tf.LayersModel, manifest: ModelManifest): Promise<void> {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = artifacts.weightData;
      if (!weights || Array.isArray(weights)) throw new Error('expected one weight buffer from tfjs');
      const topology = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [MODEL_FILES.weights], weights: artifacts.weightSpecs }],
      };
      const weightBytes = new Uint8Array(weights);
      const topologyBytes = Buffer.from(JSON.stringify(topology));
      const stored: StoredManifest = {
        ...manifest,
        files: { [MODEL_FILES.topology]: digestOf(topologyBytes), [MODEL_FILES.weights]: digestOf(weightBytes) },
      };
      await writeFileAtomic(join(dir, MODEL_FILES.weights), weightBytes);
      await writeFileAtomic(join(dir, MODEL_FILES.topology), topologyBytes);
      // Last: a crash before this line leaves a manifest whose digests fail, never a silent mix.
      await writeFileAtomic(join(dir, MODEL_FILES.manifest), `${JSON.stringify(stored, null, 2)}\n`);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}
