import { join } from 'node:path';
import { OodError } from '../errors.js';
import type { EmbeddingModel } from './embedding.js';
import { Embedder } from './embedder.js';
import type { ModelManifest } from './manifest.js';
import { ONNX_FILE } from './onnx/onnx-file.js';
import { OnnxEmbedder } from './onnx/onnx-embedder.js';
import { buildLayersModel, TFJS_FILES } from './tfjs-model-file.js';

/**
 * What runs a model folder. Each runtime names the files it needs (all checksummed in the
 * manifest) and opens them as an EmbeddingModel. Adding a runtime is one row here.
 */
export interface ModelRuntime {
  files: readonly string[];
  /** `files` holds every file this runtime named, already checked against the manifest. */
  open(dir: string, files: ReadonlyMap<string, Buffer>, manifest: ModelManifest, extraLayers: string[]): Promise<EmbeddingModel>;
}

const tfjs: ModelRuntime = {
  files: [TFJS_FILES.topology, TFJS_FILES.weights],
  async open(dir, files, manifest, extraLayers) {
    const model = await buildLayersModel(dir, files.get(TFJS_FILES.topology) as Buffer, files.get(TFJS_FILES.weights) as Buffer);
    try {
      return new Embedder(model, manifest, extraLayers);
    } catch (err) {
      model.dispose();
      throw err;
    }
  },
};

const onnx: ModelRuntime = {
  files: [ONNX_FILE],
  open: (dir, files, manifest, extraLayers) =>
    OnnxEmbedder.create(files.get(ONNX_FILE) as Buffer, manifest, join(dir, ONNX_FILE), extraLayers),
};

export const RUNTIMES = { tfjs, onnx } as const;
export type RuntimeName = keyof typeof RUNTIMES;

/** The runtime a manifest names (tfjs when it names none); the error lists the valid choices. */
export function runtimeOf(manifest: Pick<ModelManifest, 'runtime'>, manifestFile: string): ModelRuntime {
  const name = manifest.runtime ?? 'tfjs';
  if (Object.hasOwn(RUNTIMES, name)) return RUNTIMES[name as RuntimeName];
  throw new OodError('MODEL_INVALID', `${manifestFile}: runtime "${name}" is unknown; valid choices: ${Object.keys(RUNTIMES).join(', ')}`);
}
