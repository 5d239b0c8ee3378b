import { OodError } from '../errors.js';
import { decodeImage, type ImagePreprocessing } from '../model/image-input.js';

/** An instance sent as an encoded image, as TensorFlow Serving clients send binary inputs. */
export interface B64Instance {
  b64: string;
}

export function isB64Instance(value: unknown): value is B64Instance {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as B64Instance).b64 === 'string';
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The largest picture a request may send, in pixels: a small PNG can declare 6000x6000 and cost
 * a hundred megabytes of decoding on sharp's threads, which the event-loop shedding never sees.
 * Four megapixels, or sixteen times the model's own input for models that take larger images.
 */
export function maxRequestPixels(p: ImagePreprocessing): number {
  return Math.max(4_000_000, 16 * p.width * p.height);
}

/** One `{"b64": "<PNG or JPEG>"}` instance as the model input its manifest's preprocessing makes of it. */
export async function decodeB64Instance(instance: B64Instance, preprocessing: ImagePreprocessing | undefined, model: string, path: string): Promise<Float32Array> {
  if (!preprocessing) {
    throw new OodError('INVALID_INSTANCE', `${path} is an image ({"b64": ...}), but model ${model} takes no images: send numbers`);
  }
  const text = instance.b64.replace(/\s+/g, '');
  if (text.length === 0 || !BASE64.test(text)) throw new OodError('INVALID_INSTANCE', `${path}.b64 is not base64`);
  try {
    return await decodeImage(Buffer.from(text, 'base64'), preprocessing, maxRequestPixels(preprocessing));
  } catch (err) {
    throw new OodError('INVALID_INSTANCE', `${path}.b64: ${(err as Error).message}`, { cause: err });
  }
}
