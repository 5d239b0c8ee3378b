import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OodError } from '../errors.js';
import type { EmbeddingModel } from './embedding.js';
import { NAME_PATTERN, StoredManifestSchema, unindexedEfSearchLayers, unindexedStorageLayers, type StoredManifest } from './manifest.js';
import { digestOf, MANIFEST_FILE, parseJson } from './model-folder.js';
import type { RuntimeRegistry } from './model-runtime.js';
import { MODEL_RUNTIMES, runtimeNameOf } from './runtimes.js';
import { TextTokenizer } from './text/text-tokenizer.js';
import { TOKENIZER_FILE } from './text/text-settings.js';
import { buildLayersModel, TFJS_FILES } from './tfjs/tfjs-model-file.js';

/**
 * Reads `models/<name>/`: manifest.json, which names the runtime, plus the files that runtime
 * needs (model.json and weights.bin for tfjs, model.onnx for ONNX); model-folder.ts writes it.
 * tfjs's own file:// handlers live in tfjs-node, which is optional, so tfjs artifacts go through
 * memory handlers.
 */
export const MODEL_FILES = { ...TFJS_FILES, manifest: MANIFEST_FILE } as const;

export interface StoredModel {
  model: tf.LayersModel;
  manifest: StoredManifest;
  /** sha256 over the model's files and manifest: part of every cache key built on this model. */
  fingerprint: string;
  dir: string;
}

export interface LoadedModel {
  model: EmbeddingModel;
  manifest: StoredManifest;
  fingerprint: string;
  dir: string;
  /** A text model's tokenizer, bound to its inputs. */
  text?: TextTokenizer;
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

function verifyDigest(dir: string, file: string, bytes: Buffer, files: StoredManifest['files']): void {
  const expected = files[file];
  const actual = digestOf(bytes);
  if (actual.sha256 === expected.sha256 && actual.bytes === expected.bytes) return;
  throw new OodError(
    'MODEL_INVALID',
    `${join(dir, file)} fails its checksum (${actual.bytes} bytes, sha256 ${actual.sha256.slice(0, 12)}…; ` +
      `${MANIFEST_FILE} says ${expected.bytes} bytes, ${expected.sha256.slice(0, 12)}…): it changed after it was written; restore or regenerate it`,
  );
}

interface VerifiedFiles {
  dir: string;
  manifest: StoredManifest;
  files: Map<string, Buffer>;
  fingerprint: string;
}

/**
 * The manifest, then every file its runtime needs, each checked against the manifest's digest.
 * A flipped bit in a weight file still loads as a valid model that answers differently, so only
 * the checksum can tell.
 */
async function readVerified(modelsDir: string, name: string, runtimes: RuntimeRegistry = MODEL_RUNTIMES): Promise<VerifiedFiles> {
  const dir = modelDir(modelsDir, name);
  const manifestFile = join(dir, MANIFEST_FILE);
  const manifestBuf = await readModelFile(dir, MANIFEST_FILE);
  const parsed = StoredManifestSchema.safeParse(parseJson(manifestBuf, manifestFile));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new OodError('MODEL_INVALID', `${manifestFile}: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  const manifest = parsed.data;
  if (manifest.name !== name) {
    throw new OodError('MODEL_INVALID', `${manifestFile} names model "${manifest.name}", expected "${name}"`);
  }
  for (const [field, unindexed] of [
    ['ef_search', unindexedEfSearchLayers(manifest)],
    ['storage', unindexedStorageLayers(manifest)],
  ] as const) {
    if (unindexed.length > 0) throw new OodError('MODEL_INVALID', `${manifestFile}: ${field}: names ${unindexed.join(', ')}, which layers does not list`);
  }
  const runtime = runtimes.of(manifest, manifestFile);
  // A text model's tokenizer is one of its files: a changed vocabulary changes every answer.
  const needed = [...runtime.files, ...(manifest.text ? [TOKENIZER_FILE] : [])];
  const missing = needed.filter((file) => !Object.hasOwn(manifest.files, file));
  if (missing.length > 0) {
    throw new OodError('MODEL_INVALID', `${manifestFile}: files: has no checksum for ${missing.join(', ')}`);
  }
  // Read together, but report the first failure in a fixed order, so the message is stable.
  const reads = await Promise.allSettled(needed.map((file) => readModelFile(dir, file)));
  const failed = reads.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  const files = new Map(needed.map((file, i) => [file, (reads[i] as PromiseFulfilledResult<Buffer>).value]));
  for (const [file, bytes] of files) verifyDigest(dir, file, bytes, manifest.files);
  const hash = createHash('sha256');
  for (const bytes of files.values()) hash.update(bytes);
  return { dir, manifest, files, fingerprint: hash.update(manifestBuf).digest('hex') };
}

/** A model folder's manifest, after its files have passed their checksums. */
export async function readModelManifest(modelsDir: string, name: string): Promise<StoredManifest> {
  return (await readVerified(modelsDir, name)).manifest;
}

/**
 * Any model folder, opened by the runtime its manifest names: what the detector serves. The
 * runtimes are the service's unless a test brings its own table.
 */
export async function loadModel(modelsDir: string, name: string, extraLayers: string[] = [], runtimes: RuntimeRegistry = MODEL_RUNTIMES): Promise<LoadedModel> {
  const { dir, manifest, files, fingerprint } = await readVerified(modelsDir, name, runtimes);
  const model = await runtimes.of(manifest, join(dir, MANIFEST_FILE)).open(dir, files, manifest, extraLayers);
  try {
    const text = manifest.text ? TextTokenizer.create(files.get(TOKENIZER_FILE) as Buffer, manifest.text, model.inputs, join(dir, TOKENIZER_FILE)) : undefined;
    return { model, manifest, fingerprint, dir, ...(text ? { text } : {}) };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/**
 * A tfjs model folder as a LayersModel, for the work that needs tfjs itself (training,
 * gradients, layer surgery). Only tfjs gives one: any other runtime's folder is refused, by name.
 */
export async function loadStoredModel(modelsDir: string, name: string): Promise<StoredModel> {
  const { dir, manifest, files, fingerprint } = await readVerified(modelsDir, name);
  if (runtimeNameOf(manifest) !== 'tfjs') {
    throw new OodError('MODEL_INVALID', `${dir} holds a ${manifest.runtime} model; this command needs a tfjs model`);
  }
  const model = await buildLayersModel(dir, files.get(TFJS_FILES.topology) as Buffer, files.get(TFJS_FILES.weights) as Buffer);
  return { model, manifest, fingerprint, dir };
}
