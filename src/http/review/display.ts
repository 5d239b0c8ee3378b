import type { ModelInfo } from '../../detector/types.js';

/** How the review page shows one input: as a picture, a table of features, or the text its tokens spell. */
export type InputDisplay =
  | { kind: 'image'; width: number; height: number; channels: number; layout: 'nchw' | 'nhwc' }
  | { kind: 'table' }
  | { kind: 'text' };

/** Smaller flat squares (an 8x8 table of 64 features, say) are more likely columns than pixels. */
const MIN_FLAT_IMAGE_SIDE = 16;

/**
 * A text model's inputs are texts. A model's inputs are pictures when its manifest says how to decode images, or when the input
 * shape is a grid: [H, W], one channel first or last around it, or a flat square of at least
 * 16 x 16 values (MNIST's 784 is 28 x 28). Anything else is shown as a table.
 */
export function inputDisplay(info: Pick<ModelInfo, 'input_shape' | 'preprocessing' | 'text'>): InputDisplay {
  if (info.text) return { kind: 'text' };
  const p = info.preprocessing;
  if (p) return { kind: 'image', width: p.width, height: p.height, channels: p.channels, layout: p.layout };
  const shape = info.input_shape;
  if (shape.length === 2) return { kind: 'image', width: shape[1], height: shape[0], channels: 1, layout: 'nchw' };
  if (shape.length === 3 && [1, 3].includes(shape[0])) return { kind: 'image', width: shape[2], height: shape[1], channels: shape[0], layout: 'nchw' };
  if (shape.length === 3 && [1, 3].includes(shape[2])) return { kind: 'image', width: shape[1], height: shape[0], channels: shape[2], layout: 'nhwc' };
  if (shape.length === 1) {
    const side = Math.round(Math.sqrt(shape[0]));
    if (side * side === shape[0] && side >= MIN_FLAT_IMAGE_SIDE) return { kind: 'image', width: side, height: side, channels: 1, layout: 'nchw' };
  }
  return { kind: 'table' };
}
