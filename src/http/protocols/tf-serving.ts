import type { ModelInfo } from '../../detector/types.js';
import { OodError } from '../../errors.js';
import type { InputDtype } from '../../model/model-inputs.js';
import { clientNames, nameMismatch } from '../client-names.js';
import type { OutputDatatype } from './output-tensors.js';

/** TensorFlow's names for the outputs' data types, for the metadata's signature. */
export const TF_DTYPES: Record<OutputDatatype, string> = {
  FP32: 'DT_FLOAT',
  FP64: 'DT_DOUBLE',
  INT64: 'DT_INT64',
  BOOL: 'DT_BOOL',
  BYTES: 'DT_STRING',
};

/** TensorFlow's names for the inputs' element types. */
export const TF_INPUT_DTYPES: Record<InputDtype, string> = {
  float32: 'DT_FLOAT',
  float64: 'DT_DOUBLE',
  int64: 'DT_INT64',
  int32: 'DT_INT32',
  uint8: 'DT_UINT8',
  bool: 'DT_BOOL',
};

/**
 * Columnar `inputs` as the row format's instances, for the one instance decoder: a list is the
 * batch of a model with one input; an object names each input, whose value lists that input's
 * value for every instance (all lists as long).
 */
export function columnarInstances(inputs: unknown, info: Pick<ModelInfo, 'name' | 'inputs' | 'text'>): unknown[] {
  const names = info.inputs.map((i) => i.name);
  const keyed = names.map((n) => `"${n}": [...]`).join(', ');
  if (Array.isArray(inputs)) {
    // A text model's batch is a list of strings, whatever inputs the tokenizer fills.
    if (names.length === 1 || (info.text && inputs.every((v) => typeof v === 'string'))) return inputs;
    throw new OodError('INVALID_INSTANCE', `inputs must be an object naming every input of model ${info.name}: {${keyed}}`);
  }
  if (typeof inputs !== 'object' || inputs === null) {
    throw new OodError('INVALID_INSTANCE', `inputs must be a list of instances, or {${keyed}}`);
  }
  const columns = inputs as Record<string, unknown>;
  const keys = Object.keys(columns);
  const texts = keys.length === 1 && info.text && Array.isArray(columns[keys[0]]) && (columns[keys[0]] as unknown[]).every((v) => typeof v === 'string');
  if ((names.length === 1 && keys.length === 1) || texts) {
    const value = columns[keys[0]];
    if (!Array.isArray(value)) throw new OodError('INVALID_INSTANCE', `inputs must be a list of instances, or {${keyed}}`);
    return value;
  }
  const { extra, missing } = nameMismatch(keys, names);
  if (extra.length > 0 || missing.length > 0) {
    const problem = extra.length > 0 ? `names ${clientNames(extra)}, which model ${info.name} does not take` : `lacks ${missing.join(', ')}`;
    throw new OodError('INVALID_INSTANCE', `inputs ${problem}; give {${keyed}}`);
  }
  let rows: number | undefined;
  for (const name of names) {
    const column = columns[name];
    if (!Array.isArray(column)) throw new OodError('INVALID_INSTANCE', `inputs.${name} must be a list with one value per instance`);
    if (rows !== undefined && column.length !== rows) {
      throw new OodError('INVALID_INSTANCE', `inputs.${name} holds ${column.length} instances, inputs.${names[0]} ${rows}`);
    }
    rows = column.length;
  }
  return Array.from({ length: rows ?? 0 }, (_, r) => Object.fromEntries(names.map((n) => [n, (columns[n] as unknown[])[r]])));
}
