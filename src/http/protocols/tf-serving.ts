import type { ModelInfo } from '../../detector/types.js';
import { OodError } from '../../errors.js';
import { isB64Instance } from '../image-instances.js';
import type { OutputDatatype } from './output-tensors.js';

/** TensorFlow's names for the outputs' data types, for the metadata's signature. */
export const TF_DTYPES: Record<OutputDatatype, string> = {
  FP32: 'DT_FLOAT',
  FP64: 'DT_DOUBLE',
  INT64: 'DT_INT64',
  BOOL: 'DT_BOOL',
  BYTES: 'DT_STRING',
};

/**
 * A TF Serving instance may name the input: `{"<input name>": value}`, where the value may
 * itself be `{"b64": ...}`. The model has one input, so such an object is unwrapped whatever
 * the name, and a second key is refused. Numbers, arrays and `{"b64": ...}` pass unchanged.
 */
export function unwrapNamedInstance(instance: unknown, info: Pick<ModelInfo, 'name' | 'input_name'>, path: string): unknown {
  if (typeof instance !== 'object' || instance === null || Array.isArray(instance) || isB64Instance(instance)) return instance;
  const keys = Object.keys(instance);
  if (keys.length !== 1) {
    throw new OodError(
      'INVALID_INSTANCE',
      `${path} names ${keys.length === 0 ? 'no input' : `the inputs ${keys.join(', ')}`}; model ${info.name} takes one, ${info.input_name}`,
    );
  }
  return (instance as Record<string, unknown>)[keys[0]];
}

/**
 * Columnar `inputs`: the batch as one list, or an object naming the one input whose value is
 * that list. Returns the instances, as the row format would have sent them.
 */
export function columnarInstances(inputs: unknown, info: Pick<ModelInfo, 'name' | 'input_name'>): unknown[] {
  const value = Array.isArray(inputs) ? inputs : unwrapNamedInstance(inputs, info, 'inputs');
  if (!Array.isArray(value)) {
    throw new OodError('INVALID_INSTANCE', `inputs must be a list of instances, or {"${info.input_name}": [instances]}`);
  }
  return value;
}
