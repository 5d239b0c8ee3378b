import { initBackend } from '../backend.js';
import type { EmbeddingModel } from '../embedding.js';
import type { ModelRuntime } from '../model-runtime.js';
import { TfjsEmbedder } from './tfjs-embedder.js';
import { describeTfjs, readTfjsModel } from './tfjs-import.js';
import { buildLayersModel, saveStoredModel, TFJS_FILES } from './tfjs-model-file.js';

/** The embedder's forward pass over weights it does not own: disposing it leaves the model be. */
function borrowing(embedder: TfjsEmbedder): EmbeddingModel {
  const { inputSize, inputs, backend } = embedder;
  return { inputSize, inputs, backend, embed: (x, rows) => embedder.embed(x, rows), dispose: () => undefined };
}

/**
 * tfjs LayersModels (Keras through tensorflowjs_converter, or this project's `train`): one
 * float32 input, gradients for the attacks, pooled layers computed with tf ops. Stored as one model.json and one
 * weights.bin, whatever shards the user brought.
 */
export const tfjsRuntime: ModelRuntime = {
  title: 'tfjs',
  fileHint: 'a tfjs model.json',
  keptAs: 'The weights are kept as given, in one weights.bin beside a model.json written by tfjs',
  capabilities: { gradients: true, pooledLayers: true, inputTypes: 'float32-only' },
  files: [TFJS_FILES.topology, TFJS_FILES.weights],
  matches: (file) => /\.json$/i.test(file),
  async prepare({ backend }) {
    const choice = await initBackend(backend);
    return { backend: choice.backend };
  },
  async describe(file, givenShapes) {
    const model = await readTfjsModel(file);
    try {
      return {
        description: describeTfjs(model, file, givenShapes),
        // The model is saved after the probe has run: only the described model disposes it.
        probe: async (manifest) => borrowing(new TfjsEmbedder(model, manifest)),
        save: (dir, manifest, extraFiles) => saveStoredModel(dir, model, manifest, extraFiles),
        dispose: () => model.dispose(),
      };
    } catch (err) {
      model.dispose();
      throw err;
    }
  },
  async open(dir, files, manifest, extraLayers) {
    const model = await buildLayersModel(dir, files.get(TFJS_FILES.topology) as Buffer, files.get(TFJS_FILES.weights) as Buffer);
    try {
      return new TfjsEmbedder(model, manifest, extraLayers);
    } catch (err) {
      model.dispose();
      throw err;
    }
  },
};
