/**
 * A layer as a manifest's `layers` names it: a value of the model, or a pooled view of one
 * ("encoder_layer_1:mean"). Pooling makes wide hidden states indexable: a transformer's sequence
 * [T, D] becomes one D-wide vector, a convolutional feature map [C, H, W] one value per channel
 * (the per-channel spatial mean Lee et al. 2018 use for their Mahalanobis detector).
 */

export const POOLINGS = ['mean', 'first'] as const;
export type Pooling = (typeof POOLINGS)[number];

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

/** Where a feature map keeps its channels: first, as ONNX's Conv lays them out, or last, as Keras and tfjs do. */
export type MapLayout = 'chw' | 'hwc';

/**
 * A feature map's layout, read off its shape where the shape tells (pictures are square, so the
 * two equal sides are height and width: [16, 28, 28] is CHW, [28, 28, 16] HWC), else the
 * runtime's own convention: a Keras model exported to ONNX keeps Keras's channels-last maps.
 */
export function mapLayout(shape: readonly number[], preferred: MapLayout): MapLayout {
  if (shape.length !== 3) return preferred;
  const [a, b, c] = shape;
  if (b === c && a !== b) return 'chw';
  if (a === b && b !== c) return 'hwc';
  return preferred;
}

/** What a value of this per-instance shape pools to, or why it cannot be pooled so. */
export function pooledShape(shape: readonly number[], pooling: Pooling, preferred: MapLayout = 'chw'): { shape: number[] } | { problem: string } {
  if (shape.length === 2) return { shape: [shape[1]] };
  if (shape.length === 3 && pooling === 'mean') return { shape: [mapLayout(shape, preferred) === 'chw' ? shape[0] : shape[2]] };
  const what = pooling === 'mean' ? 'a sequence [T, D] or a feature map [C, H, W] or [H, W, C]' : 'a sequence [T, D]';
  return { problem: `has shape [${shape.join(', ')}]; :${pooling} pools ${what}` };
}

/**
 * How a runtime computes a pooled layer from its value, batch first: a mean over these axes (a
 * sequence's tokens, or a map's height and width wherever its channels are), or the first token.
 */
export type PoolOp = { mean: number[] } | 'first';

/** The op for a layer, from its value's per-instance shape; a problem names the layer. */
export function poolOp(spec: LayerSpec, shape: readonly number[], preferred: MapLayout): PoolOp | { problem: string } {
  const pooled = pooledShape(shape, spec.pooling as Pooling, preferred);
  if ('problem' in pooled) return { problem: `layer "${spec.name}": "${spec.value}" ${pooled.problem}` };
  if (spec.pooling === 'first') return 'first';
  if (shape.length === 2) return { mean: [1] };
  return { mean: mapLayout(shape, preferred) === 'chw' ? [2, 3] : [1, 2] };
}

