import { z } from 'zod';
import { ImagePreprocessingSchema } from './image-input.js';
import { StorageSchema } from '../neighbors/storage.js';
import { ModelInputSchema } from './model-inputs.js';
import { TextSettingsSchema } from './text/text-settings.js';

export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;

/** The special layer name that indexes the raw input itself, before any model layer. */
export const INPUT_LAYER = 'input';

/**
 * `models/<name>/manifest.json`: what the server needs besides the model's own files.
 * Kept apart from the server's settings, as MLServer keeps model-settings.json.
 */
export const ModelManifestSchema = z.object({
  name: z.string().regex(NAME_PATTERN),
  version: z.string().min(1),
  /**
   * Values per instance, as one row (the "packed row" of model-inputs.ts): the one input's
   * shape, or `[total]` over every input when `inputs` lists several.
   */
  input_shape: z.array(z.number().int().positive()).min(1),
  /**
   * The model's inputs, in the model's order, with their element types. Absent: one float32
   * input of `input_shape`, named by the model file.
   */
  inputs: z
    .array(ModelInputSchema)
    .min(1)
    .refine((inputs) => new Set(inputs.map((i) => i.name)).size === inputs.length, 'names an input twice')
    .optional(),
  labels: z.array(z.string().min(1)).min(2),
  /** Layers whose activations are indexed, by layer (tfjs) or value (ONNX) name, or "input" for the raw input. */
  layers: z.array(z.string().min(1)).min(1),
  /** Reference set (under reference-sets/) that trained the model and is indexed. */
  reference_set: z.string().regex(NAME_PATTERN),
  /**
   * The layer (tfjs) or graph output (ONNX) that gives the class scores: probabilities, or
   * logits when `output_activation` is "softmax".
   */
  output_layer: z.string().min(1),
  /** Which runtime runs the model (see model/runtimes.ts); tfjs when absent. */
  runtime: z.string().min(1).optional(),
  /** "softmax" when the output is logits (as most exported PyTorch models give); none when absent. */
  output_activation: z.enum(['none', 'softmax']).optional(),
  /** Neighbours per layer for this model; the server's OOD_K when absent. */
  k: z.number().int().positive().optional(),
  /**
   * efSearch for some of the indexed layers, keyed by layer name; OOD_HNSW_EF_SEARCH for the
   * rest. A wide layer over many references may need a longer candidate list to keep its
   * recall (`npm run bench` measures recall per layer).
   */
  ef_search: z.record(z.string().min(1), z.number().int().min(1).max(10_000)).optional(),
  /**
   * How some of the indexed layers' graphs store their vectors, keyed by layer name; the rest
   * are `auto`: f16 where its recall@k against an exact scan is at least 0.99, else f32.
   */
  storage: z.record(z.string().min(1), StorageSchema).optional(),
  /** How a client's text becomes the inputs, with tokenizer.json beside the model; only for text models. */
  text: TextSettingsSchema.optional(),
  /** How a client's PNG or JPEG (`{"b64": ...}`) becomes an input; only for image models. */
  preprocessing: ImagePreprocessingSchema.optional(),
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
  /** Keyed by file name; the model's runtime says which files it needs (model/runtimes.ts). */
  files: z.record(z.string().regex(/^[\w][\w.-]*$/, 'must be a file name in the model folder'), FileDigestSchema),
});
export type StoredManifest = z.infer<typeof StoredManifestSchema>;

/** Layers that ef_search names but the manifest does not index: a mistake worth refusing. */
export function unindexedEfSearchLayers(manifest: Pick<ModelManifest, 'layers' | 'ef_search'>): string[] {
  return unindexed(manifest.layers, manifest.ef_search);
}

/** Layers that storage names but the manifest does not index. */
export function unindexedStorageLayers(manifest: Pick<ModelManifest, 'layers' | 'storage'>): string[] {
  return unindexed(manifest.layers, manifest.storage);
}

const unindexed = (layers: readonly string[], byLayer: Record<string, unknown> | undefined) => Object.keys(byLayer ?? {}).filter((layer) => !layers.includes(layer));

export function inputSize(manifest: Pick<ModelManifest, 'input_shape'>): number {
  return manifest.input_shape.reduce((a, b) => a * b, 1);
}
