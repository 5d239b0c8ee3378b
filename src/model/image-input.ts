import sharp from 'sharp';
import { z } from 'zod';

/**
 * How an encoded image becomes a model input. Reference sets and HTTP requests share it, so the
 * model sees the same numbers for the same picture whichever way it arrives.
 */
export const ImagePreprocessingSchema = z
  .strictObject({
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    channels: z.union([z.literal(1), z.literal(3)]),
    layout: z.enum(['nchw', 'nhwc']),
    /** Applied to the 0..255 pixel before mean and std. */
    scale: z.number().positive().default(1 / 255),
    /** One value for every channel, or one per channel. */
    mean: z.array(z.number()).min(1).default([0]),
    std: z.array(z.number().positive()).min(1).default([1]),
  })
  .superRefine((p, ctx) => {
    for (const key of ['mean', 'std'] as const) {
      if (p[key].length !== 1 && p[key].length !== p.channels) {
        ctx.addIssue({ code: 'custom', path: [key], message: `must hold 1 or ${p.channels} (channels) values, not ${p[key].length}` });
      }
    }
  });

export type ImagePreprocessing = z.output<typeof ImagePreprocessingSchema>;

/** [channels, height, width] for nchw, [height, width, channels] for nhwc (batch dimension left out). */
export function preprocessedShape(p: ImagePreprocessing): number[] {
  return p.layout === 'nchw' ? [p.channels, p.height, p.width] : [p.height, p.width, p.channels];
}

/**
 * A large image compressed into a small file can expand to gigabytes of pixels; 40 megapixels
 * admits any camera photo while refusing such bombs.
 */
const MAX_INPUT_PIXELS = 40_000_000;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SIGNATURE = [0xff, 0xd8, 0xff];

/**
 * Decodes a PNG or JPEG into model input: resized to width x height (aspect ratio not kept),
 * grey or sRGB, alpha dropped, then (pixel * scale - mean[c]) / std[c] laid out as `layout` says.
 * Throws a plain Error for anything else; callers wrap it in their own error code.
 */
export async function decodeImage(bytes: Uint8Array, p: ImagePreprocessing, maxInputPixels = MAX_INPUT_PIXELS): Promise<Float32Array> {
  // The signature is checked first so that sharp never parses other formats (SVG, TIFF, ...),
  // whose decoders are a larger attack surface for untrusted uploads.
  const format = startsWith(bytes, PNG_SIGNATURE) ? 'png' : startsWith(bytes, JPEG_SIGNATURE) ? 'jpeg' : null;
  if (format === null) throw new Error('not a PNG or JPEG image (unrecognised file signature)');
  let pixels: Buffer;
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: maxInputPixels, autoOrient: true })
      .resize(p.width, p.height, { fit: 'fill' })
      // Dropping alpha keeps the stored colour of each pixel, as PIL's convert('RGB'/'L') does.
      .removeAlpha()
      .toColourspace(p.channels === 1 ? 'b-w' : 'srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== p.channels || info.width !== p.width || info.height !== p.height) {
      throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${p.width}x${p.height}x${p.channels}`);
    }
    pixels = data;
  } catch (err) {
    throw new Error(`cannot decode ${format === 'png' ? 'PNG' : 'JPEG'} image: ${(err as Error).message}`, { cause: err });
  }
  return normalize(pixels, p);
}

/** Interleaved 8-bit pixels (h, w, c) to normalised floats in the requested layout. */
function normalize(pixels: Uint8Array, p: ImagePreprocessing): Float32Array {
  const { width, height, channels, scale } = p;
  const plane = width * height;
  const out = new Float32Array(plane * channels);
  for (let c = 0; c < channels; c++) {
    const mean = p.mean.length === 1 ? p.mean[0] : p.mean[c];
    const std = p.std.length === 1 ? p.std[0] : p.std[c];
    for (let i = 0; i < plane; i++) {
      const value = (pixels[i * channels + c] * scale - mean) / std;
      out[p.layout === 'nchw' ? c * plane + i : i * channels + c] = value;
    }
  }
  return out;
}

function startsWith(bytes: Uint8Array, signature: readonly number[]): boolean {
  return bytes.length >= signature.length && signature.every((b, i) => bytes[i] === b);
}
