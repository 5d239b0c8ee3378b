import { OodError } from '../errors.js';
import { ImagePreprocessingSchema, type ImagePreprocessing } from '../model/image-input.js';

/**
 * Preprocessing for a model whose input looks like an image: [1|3, H, W] is channels-first (as
 * PyTorch lays images out), [H, W, 1|3] channels-last (as Keras does). Undefined otherwise.
 * Pixels are scaled to [0, 1] unless the caller says differently.
 */
export function imagePreprocessingFor(
  shape: readonly number[],
  overrides: { scale?: number; mean?: number[]; std?: number[] } = {},
): ImagePreprocessing | undefined {
  if (shape.length !== 3) return undefined;
  const [a, b, c] = shape;
  const isChannels = (n: number): n is 1 | 3 => n === 1 || n === 3;
  const base = { scale: overrides.scale ?? 1 / 255, mean: overrides.mean ?? [0], std: overrides.std ?? [1] };
  let preprocessing: ImagePreprocessing | undefined;
  if (isChannels(a) && b > 3 && c > 3) preprocessing = { width: c, height: b, channels: a, layout: 'nchw', ...base };
  else if (isChannels(c) && a > 3 && b > 3) preprocessing = { width: b, height: a, channels: c, layout: 'nhwc', ...base };
  if (!preprocessing) return undefined;
  const checked = ImagePreprocessingSchema.safeParse(preprocessing);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new OodError('CONFIG_INVALID', `--${String(issue.path[0] ?? 'scale')}: ${issue.message}`);
  }
  return checked.data;
}
