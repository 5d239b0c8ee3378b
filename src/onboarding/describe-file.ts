import { OodError } from '../errors.js';
import type { DescribedModel, ModelRuntime } from '../model/model-runtime.js';
import type { GivenShapes } from '../model/onnx/onnx-inputs.js';

/**
 * Reads and describes a model file a user brings, through its runtime. A failure the runtime
 * did not name (a parser's own error) becomes MODEL_INVALID naming the file, or
 * DATA_SOURCE_MISSING when a file is not there.
 */
export async function describeModelFile(file: string, runtime: ModelRuntime, givenShapes?: GivenShapes): Promise<DescribedModel> {
  try {
    return await runtime.describe(file, givenShapes);
  } catch (err) {
    if (err instanceof OodError) throw err;
    const code = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'DATA_SOURCE_MISSING' : 'MODEL_INVALID';
    throw new OodError(code, `${file} cannot be loaded: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
}
