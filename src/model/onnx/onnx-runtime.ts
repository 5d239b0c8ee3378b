import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OodError } from '../../errors.js';
import { writeModelFolder } from '../model-folder.js';
import type { ModelRuntime } from '../model-runtime.js';
import { describeOnnx } from './describe-onnx.js';
import { OnnxEmbedder } from './onnx-embedder.js';
import { OnnxFormatError } from './onnx-graph.js';

/** The ONNX model file in a model folder: kept byte for byte as the user exported it. */
export const ONNX_FILE = 'model.onnx';

async function readOnnxFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new OodError('DATA_SOURCE_MISSING', `cannot read model file ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * ONNX models on onnxruntime, kept byte for byte as the user exported them: any inputs (token
 * ids and masks too), pooled layers added to the graph, no gradients.
 */
export const onnxRuntime: ModelRuntime = {
  title: 'ONNX',
  fileHint: 'an ONNX file (.onnx)',
  keptAs: 'The model file is kept byte for byte as given',
  capabilities: { gradients: false, pooledLayers: true, inputTypes: 'any' },
  files: [ONNX_FILE],
  matches: (file) => /\.onnx$/i.test(file),
  prepare: async () => undefined,
  async describe(file, givenShapes) {
    const bytes = await readOnnxFile(file);
    let description;
    try {
      description = await describeOnnx(bytes, file, givenShapes);
    } catch (err) {
      if (err instanceof OnnxFormatError) throw new OodError('MODEL_INVALID', `${file} ${err.message}`, { cause: err });
      throw err;
    }
    return {
      description,
      probe: (manifest) => OnnxEmbedder.create(bytes, manifest, file),
      save: (dir, manifest, extraFiles = {}) => writeModelFolder(dir, { [ONNX_FILE]: bytes, ...extraFiles }, manifest),
      // The bytes are all it holds, and the garbage collector frees them.
      dispose: () => undefined,
    };
  },
  open: (dir, files, manifest, extraLayers) => OnnxEmbedder.create(files.get(ONNX_FILE) as Buffer, manifest, join(dir, ONNX_FILE), extraLayers),
};
