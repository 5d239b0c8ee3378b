import { OodError } from '../errors.js';

/** Values beyond this become Infinity in a Float32Array, though they are finite in JSON. */
const FLOAT32_MAX = 3.4028234663852886e38;

/** Bounds the recursion below: the body limit alone would allow a million nested brackets. */
export const MAX_INSTANCE_DEPTH = 8;

/**
 * Checks each instance and copies it, flattened row-major, into one buffer: the detector's input.
 * An instance may be flat or nested in any rectangular shape whose size is prod(inputShape), so
 * clients can send a 28x28 image to a model that takes 784 values. Errors name the offending
 * path, e.g. `instances[3][27][1]`.
 */
export function toInputBatch(instances: readonly unknown[], inputShape: readonly number[]): Float32Array {
  const width = inputShape.reduce((size, dim) => size * dim, 1);
  const batch = new Float32Array(instances.length * width);
  instances.forEach((instance, row) => {
    const path = `instances[${row}]`;
    // A decoded image: already flat, finite and of the model's size by construction.
    if (instance instanceof Float32Array) {
      if (instance.length !== width) {
        throw new OodError('INVALID_INSTANCE', `${path} decodes to ${instance.length} values; the model expects ${width}`);
      }
      batch.set(instance, row * width);
      return;
    }
    const shape = shapeOf(instance, path);
    const size = shape.reduce((n, dim) => n * dim, 1);
    if (size !== width) {
      const got = shape.length === 1 ? `${size} values` : `shape [${shape.join(', ')}] (${size} values)`;
      throw new OodError(
        'INVALID_INSTANCE',
        `${path} has ${got}; the model expects ${width} values (input_shape [${inputShape.join(', ')}])`,
      );
    }
    copyRectangular(instance, shape, 0, batch, row * width, path);
  });
  return batch;
}

/** The shape implied by the first element at each level; copyRectangular checks the rest agree. */
function shapeOf(instance: unknown, path: string): number[] {
  const shape: number[] = [];
  let level = instance;
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

/** Returns the offset after the copied values. */
function copyRectangular(
  value: unknown,
  shape: readonly number[],
  depth: number,
  out: Float32Array,
  offset: number,
  path: string,
): number {
  if (!Array.isArray(value) || value.length !== shape[depth]) {
    const got = Array.isArray(value) ? `${value.length} elements` : describe(value);
    throw new OodError(
      'INVALID_INSTANCE',
      `${path} should be an array of ${shape[depth]} elements like its siblings, got ${got} (ragged instance)`,
    );
  }
  if (depth === shape.length - 1) {
    // The hot loop: one pass over every number in the request.
    for (let i = 0; i < value.length; i++) {
      const x: unknown = value[i];
      if (typeof x !== 'number' || !(x >= -FLOAT32_MAX && x <= FLOAT32_MAX)) {
        throw new OodError(
          'INVALID_INSTANCE',
          `${path}[${i}] must be a finite number within float32 range, got ${describe(x)}`,
        );
      }
      out[offset + i] = x;
    }
    return offset + value.length;
  }
  let next = offset;
  for (let i = 0; i < value.length; i++) {
    next = copyRectangular(value[i], shape, depth + 1, out, next, `${path}[${i}]`);
  }
  return next;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return String(value);
  return `a ${typeof value}`;
}
