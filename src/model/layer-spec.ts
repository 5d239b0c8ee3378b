/**
 * A layer as a manifest's `layers` names it: a value of the model, or a pooled view of one
 * ("encoder_layer_1:mean"). Pooling makes wide hidden states indexable: a transformer's sequence
 * [T, D] becomes one D-wide vector, a convolutional feature map [C, H, W] one value per channel
 * (the per-channel spatial mean Lee et al. 2018 use for their Mahalanobis detector).
 */

export const POOLINGS = ['mean', 'first'] as const;
export type Pooling = (typeof POOLINGS)[number];

export const POOLING_DOCS: Record<Pooling, string> = {
  mean: 'a sequence [T, D]: its mean over the tokens the attention mask keeps; a feature map [C, H, W]: its mean over H and W per channel',
  first: 'a sequence [T, D]: its first token (a [CLS] token)',
};

export interface LayerSpec {
  /** As the manifest writes it. */
  name: string;
  /** The model's own value (ONNX) or layer (tfjs). */
  value: string;
  pooling?: Pooling;
}

/**
 * "x:mean" and "x:first" are pooled; any other name is a value as it is, so names that hold a
 * colon themselves (TensorFlow's "dense/Relu:0") still name their value.
 */
export function parseLayer(name: string): LayerSpec {
  const at = name.lastIndexOf(':');
  const suffix = name.slice(at + 1);
  if (at > 0 && (POOLINGS as readonly string[]).includes(suffix)) return { name, value: name.slice(0, at), pooling: suffix as Pooling };
  return { name, value: name };
}

export const pooledName = (value: string, pooling: Pooling): string => `${value}:${pooling}`;

/** What a value of this per-instance shape pools to, or why it cannot be pooled so. */
export function pooledShape(shape: readonly number[], pooling: Pooling): { shape: number[] } | { problem: string } {
  if (shape.length === 2) return { shape: [shape[1]] };
  if (shape.length === 3 && pooling === 'mean') return { shape: [shape[0]] };
  const what = pooling === 'mean' ? 'a sequence [T, D] or a feature map [C, H, W]' : 'a sequence [T, D]';
  return { problem: `has shape [${shape.join(', ')}]; :${pooling} pools ${what}` };
}
