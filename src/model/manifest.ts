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

const FileDigestSchema = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256'),
  bytes: z.number().int().nonnegative(),
});

/**
 * The manifest as stored: the model's fields plus a digest of each artifact, written with them.
 * A flipped bit in weights.bin still loads as a valid model that answers differently, so only a
 * checksum can tell; the service refuses a model that fails it rather than serve it.
 */
export const StoredManifestSchema = ModelManifestSchema.extend({
  files: z.object({ 'model.json': FileDigestSchema, 'weights.bin': FileDigestSchema }).strict(),
});
export type StoredManifest = z.infer<typeof StoredManifestSchema>;

export function inputSize(manifest: Pick<ModelManifest, 'input_shape'>): number {
  return manifest.input_shape.reduce((a, b) => a * b, 1);
}
