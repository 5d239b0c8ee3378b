import { OodError } from '../errors.js';
import type { GivenShapes } from '../model/onnx/onnx-inputs.js';

const DIMS = /^\d+(x\d+)*$/;

/**
 * `--input-shape`, for models whose file leaves dimensions free: "1,28,28" for a model with one
 * input, or "input_ids=128,attention_mask=128" (dimensions joined by "x", as pixel_values=3x224x224)
 * naming each input. Anything else is refused naming the option.
 */
export function parseInputShape(text: string, option: string): GivenShapes {
  if (!text.includes('=')) {
    if (!/^\d+(,\d+)*$/.test(text) || text.split(',').some((d) => Number(d) < 1)) {
      throw new OodError('CONFIG_INVALID', `${option} "${text}" must be positive integers separated by commas, e.g. 1,28,28, or NAME=DIMS per input, e.g. input_ids=128,attention_mask=128`);
    }
    return text.split(',').map(Number);
  }
  // No prototype: an input may be called "__proto__" or "constructor".
  const shapes = Object.create(null) as Record<string, number[]>;
  for (const pair of text.split(',')) {
    const at = pair.indexOf('=');
    const name = pair.slice(0, at);
    const dims = pair.slice(at + 1);
    if (at < 1 || !DIMS.test(dims) || dims.split('x').some((d) => Number(d) < 1)) {
      throw new OodError('CONFIG_INVALID', `${option}: "${pair}" must be NAME=DIMS with positive dimensions joined by "x", e.g. input_ids=128 or pixel_values=3x224x224`);
    }
    if (Object.hasOwn(shapes, name)) throw new OodError('CONFIG_INVALID', `${option} names ${name} twice`);
    shapes[name] = dims.split('x').map(Number);
  }
  return shapes;
}
