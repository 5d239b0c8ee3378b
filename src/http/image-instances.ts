import { OodError } from '../errors.js';
import type { ModelInfo } from '../detector/types.js';
import { decodeImage, type ImagePreprocessing } from '../model/image-input.js';
import { toInputBatch } from './instances.js';

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

/**
 * Replaces every `{"b64": "<PNG or JPEG>"}` instance by the model input its manifest's
 * preprocessing makes of it; numeric instances pass through. One image at a time, so a batch of
 * images never holds more than one decoded copy in flight besides the results.
 */
export async function decodeImageInstances(
  instances: readonly unknown[],
  preprocessing: ImagePreprocessing | undefined,
  model: string,
): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const [i, instance] of instances.entries()) {
    if (!isB64Instance(instance)) {
      out.push(instance);
      continue;
    }
    const path = `instances[${i}]`;
    if (!preprocessing) {
      throw new OodError('INVALID_INSTANCE', `${path} is an image ({"b64": ...}), but model ${model} takes no images: send numbers`);
    }
    const text = instance.b64.replace(/\s+/g, '');
    if (text.length === 0 || !BASE64.test(text)) throw new OodError('INVALID_INSTANCE', `${path}.b64 is not base64`);
    try {
      out.push(await decodeImage(Buffer.from(text, 'base64'), preprocessing, maxRequestPixels(preprocessing)));
    } catch (err) {
      throw new OodError('INVALID_INSTANCE', `${path}.b64: ${(err as Error).message}`, { cause: err });
    }
  }
  return out;
}

/** A request's instances, numbers or images, as the model's input rows: what every instance-based route decodes. */
export async function instancesToBatch(instances: readonly unknown[], model: Pick<ModelInfo, 'name' | 'input_shape' | 'preprocessing'>): Promise<Float32Array> {
  return toInputBatch(await decodeImageInstances(instances, model.preprocessing, model.name), model.input_shape);
}
