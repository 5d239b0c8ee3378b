import { OodError } from '../errors.js';
import { describeValue, elementProblem, elementValue, FLOAT32_MAX, type InputDtype } from '../model/model-inputs.js';

/**
 * Walking the numbers of a JSON value, flat or nested, into a Float32Array: the one walker
 * behind every JSON wire format (`/predict` and TF Serving instances, v2 tensor data). Errors
 * name the offending path, e.g. `instances[3][27][1]`.
 */

/** Bounds the recursion: the body limit alone would allow a million nested brackets. */
export const MAX_INSTANCE_DEPTH = 8;

/**
 * How each element is checked: against the input's element type, and first against the wire
 * format's own type when it has one. Float inputs without a wire check, the common case by
 * far, take an inline check without a call.
 */
export interface ElementRule {
  dtype: InputDtype;
  /** An extra check of the wire format (a v2 INT64 tensor holds whole numbers whatever the model takes). */
  wire?: (x: unknown) => string | undefined;
}

/** The shape implied by the first element at each level; copyNested checks the rest agree. */
export function shapeOf(value: unknown, path: string): number[] {
  const shape: number[] = [];
  let level = value;
  let levelPath = path;
  while (Array.isArray(level)) {
    if (shape.length === MAX_INSTANCE_DEPTH) {
      throw new OodError('INVALID_INSTANCE', `${path} is nested deeper than ${MAX_INSTANCE_DEPTH} levels`);
    }
    if (level.length === 0) throw new OodError('INVALID_INSTANCE', `${levelPath} is an empty array`);
    shape.push(level.length);
    level = level[0];
    levelPath += '[0]';
  }
  return shape;
}

/**
 * Copies `value`, nested exactly as `shape` says, into `out` from `offset`, checking every
 * element by `rule`. A level whose length disagrees with the shape is refused even when the count
 * is right, since its rows would not be the client's rows. `declared` says the shape is the
 * client's own (a v2 tensor's), not one read off the first elements. Returns the offset after
 * the values.
 */
export function copyNested(
  value: unknown,
  shape: readonly number[],
  rule: ElementRule,
  out: Float32Array,
  offset: number,
  path: string,
  declared = false,
  depth = 0,
): number {
  if (declared && Array.isArray(value) && value.length !== shape[depth]) {
    throw new OodError('INVALID_INSTANCE', `${path} holds ${value.length} elements; the shape [${shape.join(', ')}] gives ${shape[depth]} there`);
  }
  if (!Array.isArray(value) || value.length !== shape[depth]) {
    const got = Array.isArray(value) ? `${value.length} elements` : describeValue(value);
    throw new OodError('INVALID_INSTANCE', `${path} should be an array of ${shape[depth]} elements like its siblings, got ${got} (ragged instance)`);
  }
  if (depth === shape.length - 1) {
    const fast = (rule.dtype === 'float32' || rule.dtype === 'float64') && !rule.wire;
    // The hot loop: one pass over every number in the request.
    for (let i = 0; i < value.length; i++) {
      const x: unknown = value[i];
      if (fast && typeof x === 'number' && x >= -FLOAT32_MAX && x <= FLOAT32_MAX) {
        out[offset + i] = x;
        continue;
      }
      const problem = rule.wire?.(x) ?? elementProblem(x, rule.dtype);
      if (problem !== undefined) throw new OodError('INVALID_INSTANCE', `${path}[${i}] ${problem}`);
      out[offset + i] = elementValue(x);
    }
    return offset + value.length;
  }
  let next = offset;
  for (let i = 0; i < value.length; i++) {
    next = copyNested(value[i], shape, rule, out, next, `${path}[${i}]`, declared, depth + 1);
  }
  return next;
}

/**
 * One instance of one input: any rectangular nesting whose size is the input's width, so a
 * client may send a 28x28 image to a model that takes 784 values, or flat values for [3, 32, 32].
 */
export function copyInstance(value: unknown, width: number, what: string, rule: ElementRule, out: Float32Array, offset: number, path: string): void {
  if (!Array.isArray(value)) {
    throw new OodError('INVALID_INSTANCE', `${path} must be an array of ${width} values, got ${describeValue(value)}`);
  }
  const shape = shapeOf(value, path);
  const size = shape.reduce((n, dim) => n * dim, 1);
  if (size !== width) {
    const got = shape.length === 1 ? `${size} values` : `shape [${shape.join(', ')}] (${size} values)`;
    throw new OodError('INVALID_INSTANCE', `${path} has ${got}; the model expects ${width} values (${what})`);
  }
  copyNested(value, shape, rule, out, offset, path);
}
