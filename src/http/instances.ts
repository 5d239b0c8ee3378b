import type { ModelInfo, TextCodec } from '../detector/types.js';
import { OodError } from '../errors.js';
import { describeValue, inputLayout, inputWidth, type ModelInput } from '../model/model-inputs.js';
import { decodeB64Instance, isB64Instance } from './image-instances.js';
import { clientNames, nameMismatch } from './client-names.js';
import { copyInstance } from './nested-values.js';

export { MAX_INSTANCE_DEPTH } from './nested-values.js';

/** What decoding instances needs to know of a model. */
export type InstanceModel = Pick<ModelInfo, 'name' | 'inputs' | 'input_shape' | 'preprocessing' | 'text'>;

/**
 * The JSON instance decoder, shared by `/predict` and TF Serving (row and columnar formats): a
 * request's instances as the model's packed rows. An instance is
 * - for a model with one input: its values, flat or nested in any rectangular shape of the right
 *   size; `{"b64": "<PNG or JPEG>"}` for an image model; or either, keyed by the input's name;
 * - for a model with several inputs: an object keyed by input name, each value as above;
 * - for a text model: a string, which `text` (the model's tokenizer) turns into its inputs.
 * Images are decoded one at a time, so a batch never holds more than one decoded copy in flight.
 */
export async function decodeInstances(instances: readonly unknown[], model: InstanceModel, at = 'instances', text?: TextCodec): Promise<Float32Array> {
  const layout = inputLayout(model.inputs);
  const out = new Float32Array(instances.length * layout.width);
  for (const [row, instance] of instances.entries()) {
    const path = `${at}[${row}]`;
    if (typeof instance === 'string') {
      if (!text) throw new OodError('INVALID_INSTANCE', `${path} is text, but model ${model.name} takes numbers (${model.inputs.map((i) => i.name).join(', ')})`);
      text.encodeInto(instance, out, row, path);
      continue;
    }
    const parts = inputValues(instance, model, path);
    for (const [j, input] of model.inputs.entries()) {
      const { value, path: valuePath } = parts[j];
      const offset = row * layout.width + layout.offsets[j];
      if (isB64Instance(value)) {
        const image = await decodeB64Instance(value, input.dtype === 'float32' ? model.preprocessing : undefined, model.name, valuePath);
        if (image.length !== inputWidth(input)) {
          throw new OodError('INVALID_INSTANCE', `${valuePath} decodes to ${image.length} values; the model expects ${inputWidth(input)}`);
        }
        out.set(image, offset);
        continue;
      }
      copyInstance(value, inputWidth(input), shapeNote(input, model), { dtype: input.dtype }, out, offset, valuePath);
    }
  }
  return out;
}

function shapeNote(input: ModelInput, model: InstanceModel): string {
  return model.inputs.length === 1 ? `input_shape [${model.input_shape.join(', ')}]` : `${input.name}: ${input.dtype} [${input.shape.join(', ')}]`;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !isB64Instance(value);

/** The instance's value for each input, in the model's order, with the path that names it. */
function inputValues(instance: unknown, model: InstanceModel, path: string): { value: unknown; path: string }[] {
  const names = model.inputs.map((i) => i.name);
  if (names.length === 1) {
    if (!isPlainObject(instance)) return [{ value: instance, path }];
    const keys = Object.keys(instance);
    if (keys.length !== 1 || keys[0] !== names[0]) {
      const named = keys.length === 0 ? 'no input' : `the input${keys.length > 1 ? 's' : ''} ${clientNames(keys)}`;
      throw new OodError('INVALID_INSTANCE', `${path} names ${named}; model ${model.name} takes one, ${names[0]}`);
    }
    return [{ value: instance[names[0]], path: `${path}.${names[0]}` }];
  }
  if (!isPlainObject(instance)) {
    const text = model.text ? 'a string (the text) or ' : '';
    throw new OodError('INVALID_INSTANCE', `${path} must be ${text}an object keyed by input name (${names.join(', ')}), got ${describeValue(instance)}`);
  }
  const { extra } = nameMismatch(Object.keys(instance), names);
  if (extra.length > 0) {
    throw new OodError('INVALID_INSTANCE', `${path} names ${clientNames(extra)}, which model ${model.name} does not take; its inputs are ${names.join(', ')}`);
  }
  return names.map((name) => {
    if (!Object.hasOwn(instance, name)) {
      throw new OodError('INVALID_INSTANCE', `${path} lacks input "${name}"; model ${model.name} takes ${names.join(', ')}`);
    }
    return { value: instance[name], path: `${path}.${name}` };
  });
}
