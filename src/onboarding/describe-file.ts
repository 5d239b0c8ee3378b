import type * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import { OodError } from '../errors.js';
import type { ModelDescription } from '../model/model-description.js';
import { describeOnnx } from '../model/onnx/describe-onnx.js';
import { OnnxFormatError } from '../model/onnx/onnx-graph.js';
import type { GivenShapes } from '../model/onnx/onnx-inputs.js';
import { describeTfjs, readTfjsModel } from '../model/tfjs-import.js';

export type ModelFileKind = 'onnx' | 'tfjs';

/** A model file a user brings: ONNX by its extension, tfjs by its model.json. */
export function modelFileKind(file: string): ModelFileKind {
  if (/\.onnx$/i.test(file)) return 'onnx';
  if (/\.json$/i.test(file)) return 'tfjs';
  throw new OodError('CONFIG_INVALID', `${file}: expected an ONNX file (.onnx) or a tfjs model.json`);
}

export interface DescribedFile {
  description: ModelDescription;
  /** The ONNX file's bytes, kept as given. */
  onnxBytes?: Uint8Array;
  /** The tfjs model, owned by the caller (dispose it). */
  tfjsModel?: tf.LayersModel;
}

/** Reads and describes a model file; every failure is MODEL_INVALID naming the file. */
export async function describeModelFile(file: string, kind: ModelFileKind, inputShape?: GivenShapes): Promise<DescribedFile> {
  let bytes: Buffer | undefined;
  if (kind === 'onnx') {
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new OodError('DATA_SOURCE_MISSING', `cannot read model file ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  try {
    if (kind === 'onnx') {
      const onnxBytes = bytes as Buffer;
      return { description: await describeOnnx(onnxBytes, file, inputShape), onnxBytes };
    }
    const tfjsModel = await readTfjsModel(file);
    try {
      return { description: describeTfjs(tfjsModel, file, inputShape), tfjsModel };
    } catch (err) {
      tfjsModel.dispose();
      throw err;
    }
  } catch (err) {
    if (err instanceof OodError) throw err;
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'DATA_SOURCE_MISSING' : 'MODEL_INVALID';
    const message = err instanceof OnnxFormatError ? err.message : `cannot be loaded: ${(err as Error).message.split('\n')[0]}`;
    throw new OodError(code, `${file} ${message}`, { cause: err });
  }
}
