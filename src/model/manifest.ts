import { z } from 'zod';

export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;

/** The special layer name that indexes the raw input itself, before any model layer. */
export const INPUT_LAYER = 'input';

/**
 * `models/<name>/manifest.json`: what the server needs besides the tfjs topology and weights.
 * Kept apart from the server's settings, as MLServer keeps model-settings.json.
 */
export const ModelManifestSchema = z.object({
  name: z.string().regex(NAME_PATTERN),
  version: z.string().min(1),
  input_shape: z.array(z.number().int().positive()).min(1),
  labels: z.array(z.string().min(1)).min(2),
  /** Layers whose activations are indexed, by tfjs layer name, or "input" for the raw input. */
  layers: z.array(z.string().min(1)).min(1),
  /** Reference set (under reference-sets/) that trained the model and is indexed. */
  reference_set: z.string().regex(NAME_PATTERN),
  /** The name of the layer whose output is the class probabilities (softmax). */
  output_layer: z.string().min(1),
});
export type ModelManifest = z.infer<typeof ModelManifestSchema>;

export function inputSize(manifest: Pick<ModelManifest, 'input_shape'>): number {
  return manifest.input_shape.reduce((a, b) => a * b, 1);
}
