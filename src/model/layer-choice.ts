import { parseLayer, pooledName, pooledShape, type MapLayout, type Pooling } from './layer-spec.js';

/**
 * Which layers to index when the user names none. Pure: it sees only a description of the
 * model's layers, whatever runtime runs it.
 */

/** What a layer's output is, for choosing: a representation (after a nonlinearity, pooling or flattening), a linear map, or other. */
export type LayerRole = 'representation' | 'pooled' | 'linear' | 'other';

export interface LayerCandidate {
  /** The name a manifest's `layers` uses. */
  name: string;
  /** The op or layer class that produces it (Relu, MaxPool, Flatten, Dense, ...). */
  op: string;
  /** Per-instance shape (batch removed). */
  shape: number[];
  /** Values per instance: what the index and the density model see. */
  width: number;
  role: LayerRole;
  /** A pooled view of a wider value (layer-spec.ts): `shape` is the pooled shape, `from` the value's own. */
  pooling?: Pooling;
  from?: number[];
  /**
   * A transformer's residual stream: the value feeds an Add and something else besides, as a
   * block's input feeds both its attention and the skip connection around it.
   */
  residual?: boolean;
}

/**
 * Above this width a layer's graph and its Mahalanobis density (whose cost grows with the square
 * of the width) take minutes to build on tens of thousands of points, and distances in so many
 * dimensions say less, so wider layers are only indexed when named.
 */
export const MAX_DEFAULT_WIDTH = 2048;
/** The raw input is indexed by default up to this many values (784 for a 28x28 image). */
export const MAX_DEFAULT_INPUT_WIDTH = 1024;
/** Layers before the penultimate one that are indexed by default. */
export const EARLIER_LAYERS = 2;

export interface LayerChoice {
  layers: string[];
  /** One line per chosen layer, saying why. */
  reasons: string[];
}

/**
 * - the penultimate representation: the last one before the class output, narrow enough;
 * - up to two earlier ones, pooled or flattened first (a flattened pool is the same values as
 *   the pool, so only one of a pair of equal width is kept), else earlier activations;
 * - a transformer's pooled hidden states: the last one and up to two earlier ones on its
 *   residual stream (every other one from the end, so one per block);
 * - when no earlier layer was found, a convolutional network's pooled feature maps (its blocks
 *   all too wide): the last one at each resolution, the latest first, up to two;
 * - the raw input when it is small.
 * `candidates` are in graph order and exclude the class output itself.
 */
export function chooseLayers(candidates: readonly LayerCandidate[], inputWidth: number, inputName: string): LayerChoice {
  const withInput = inputWidth <= MAX_DEFAULT_INPUT_WIDTH;
  // A flatten of the raw input holds the input's own values.
  const sameAsInput = (c: LayerCandidate) => withInput && c.role === 'pooled' && c.width === inputWidth;
  // A value offered pooled is taken pooled, not whole.
  const pooledViews = new Set(candidates.filter((c) => c.pooling).map((c) => parseLayer(c.name).value));
  // One value per instance (a clamp of a count, a scalar norm) places nothing among neighbours.
  const usable = candidates.filter(
    (c) =>
      !c.pooling &&
      !pooledViews.has(c.name) &&
      (c.role === 'representation' || c.role === 'pooled') &&
      c.width >= 2 &&
      c.width <= MAX_DEFAULT_WIDTH &&
      !sameAsInput(c),
  );
  const chosen: { candidate: LayerCandidate; reason: string }[] = [];
  const penultimate = usable.at(-1);
  if (penultimate) {
    chosen.push({ candidate: penultimate, reason: `the last ${penultimate.op} before the class output (${penultimate.width} values)` });
    const earlier = usable.slice(0, -1).reverse();
    const pooled = earlier.filter((c) => c.role === 'pooled');
    const pool = pooled.length > 0 ? pooled : earlier;
    for (const candidate of pool) {
      if (chosen.length > EARLIER_LAYERS) break;
      // A pool and the flatten of it have equal widths and hold the same values.
      if (candidate.role === 'pooled' && chosen.some((c) => c.candidate.role === 'pooled' && c.candidate.width === candidate.width)) continue;
      chosen.push({
        candidate,
        reason: `an earlier ${candidate.role === 'pooled' ? 'pooled or flattened' : ''} ${candidate.op} output (${candidate.width} values)`.replace('  ', ' '),
      });
    }
  }
  // Feature maps only where no earlier flat layer was found: measured on the example CNN, a
  // pooled block added beside its flatten lowered the AUROC against MNIST (docs/onboarding.md).
  chosen.push(...pooledChoice(candidates, chosen.length > 1 ? 0 : EARLIER_LAYERS + 1 - chosen.length));
  const order = new Map(candidates.map((c, i) => [c.name, i]));
  chosen.sort((a, b) => (order.get(a.candidate.name) ?? 0) - (order.get(b.candidate.name) ?? 0));
  const layers = chosen.map((c) => c.candidate.name);
  const reasons = chosen.map((c) => `${c.candidate.name}: ${c.reason}`);
  if (withInput) {
    layers.unshift(inputName);
    reasons.unshift(`${inputName}: the raw input, small enough to index (${inputWidth} <= ${MAX_DEFAULT_INPUT_WIDTH} values)`);
  }
  const skipped = candidates.filter((c) => !c.pooling && (c.role === 'representation' || c.role === 'pooled') && c.width > MAX_DEFAULT_WIDTH);
  if (skipped.length > 0) {
    reasons.push(`not chosen, wider than ${MAX_DEFAULT_WIDTH} values: ${skipped.map((c) => `${c.name} (${c.width})`).join(', ')}`);
  }
  return { layers, reasons };
}

/** The pooled candidates a default choice takes: a transformer's hidden states, else feature maps for the free slots. */
function pooledChoice(candidates: readonly LayerCandidate[], free: number): { candidate: LayerCandidate; reason: string }[] {
  const pooled = candidates.filter((c) => c.pooling === 'mean' && c.width >= 2 && c.width <= MAX_DEFAULT_WIDTH);
  const sequences = pooled.filter((c) => c.from?.length === 2);
  if (sequences.length > 0) {
    const last = sequences[sequences.length - 1];
    const stream = sequences.filter((c) => c.residual && c !== last).reverse();
    const earlier = stream.filter((_, i) => i % 2 === 1).slice(0, EARLIER_LAYERS);
    const shown = (c: LayerCandidate) => `[${c.from?.join(', ')}] averaged over its tokens (${c.width} values)`;
    return [
      ...earlier.reverse().map((candidate) => ({ candidate, reason: `an earlier hidden state on the residual stream, ${shown(candidate)}` })),
      { candidate: last, reason: `the last hidden state, ${shown(last)}` },
    ];
  }
  if (free <= 0) return [];
  // A resolution is the map's shape without its channels, wherever they are.
  const byResolution = new Map<string, LayerCandidate>();
  for (const c of pooled.filter((p) => p.from?.length === 3)) byResolution.set((c.from ?? []).filter((_, i, f) => i !== f.indexOf(c.width)).join('x'), c);
  return [...byResolution.values()]
    .reverse()
    .slice(0, free)
    .map((candidate) => ({ candidate, reason: `a feature map [${candidate.from?.join(', ')}] averaged per channel (${candidate.width} values), the last at its resolution` }));
}

const ACTIVATIONS = new Set([
  'Relu', 'LeakyRelu', 'PRelu', 'Elu', 'Selu', 'Celu', 'Sigmoid', 'Tanh', 'Gelu', 'HardSigmoid', 'HardSwish',
  'Softplus', 'Softsign', 'Clip', 'Mish', 'ThresholdedRelu', 'LayerNormalization',
]);
// ReduceMean and ReduceMax are what PyTorch exports `x.mean(dim)` and `x.amax(dim)` as.
const POOLS = new Set(['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'LpPool', 'Flatten', 'ReduceMean', 'ReduceMax']);
const LINEAR = new Set(['Gemm', 'MatMul', 'Conv', 'ConvTranspose', 'Add', 'BatchNormalization']);

/**
 * Pooled views of the values that can take them, each right after its value: a sequence [T, D]
 * from a layer norm, a residual Add or the last Add (a transformer's hidden states) averaged over its tokens,
 * or taken at its first token; a feature map [C, H, W] from an activation averaged per channel.
 */
export function pooledCandidates(values: readonly LayerCandidate[], residual: (name: string) => boolean, layout: MapLayout = 'chw'): LayerCandidate[] {
  const hidden = (c: LayerCandidate) => c.shape.length === 2 && c.shape[1] >= 2 && (c.op === 'LayerNormalization' || c.op === 'Add');
  // Of the Adds, those on the residual stream and the last (the final hidden state): the rest
  // are biases and sums inside a block.
  const last = values.filter(hidden).at(-1);
  return values.flatMap((c) => {
    const sequence = hidden(c) && (c.op === 'LayerNormalization' || c === last || residual(c.name));
    const map = c.shape.length === 3 && c.role === 'representation';
    if (!sequence && !map) return [c];
    const pooled = (pooling: Pooling, shape: number[]): LayerCandidate => ({
      name: pooledName(c.name, pooling),
      op: c.op,
      shape,
      width: shape[0],
      role: 'pooled',
      pooling,
      from: c.shape,
      ...(sequence && residual(c.name) ? { residual: true } : {}),
    });
    if (sequence) return [c, pooled('mean', [c.shape[1]]), pooled('first', [c.shape[1]])];
    return [c, pooled('mean', (pooledShape(c.shape, 'mean', layout) as { shape: number[] }).shape)];
  });
}

/**
 * The role of an ONNX op's output. A Reshape to one dimension per instance is a flatten. A
 * reduction that keeps a last axis of one ([T, 1]) is a statistic inside a decomposed layer
 * norm, not a pool (a global pool kept as [C, 1, 1] still is one).
 */
export function onnxRole(op: string, shape: readonly number[]): LayerRole {
  if (ACTIVATIONS.has(op)) return 'representation';
  if ((op === 'ReduceMean' || op === 'ReduceMax') && shape.length === 2 && shape[1] === 1) return 'other';
  if (POOLS.has(op) || (op === 'Reshape' && shape.length === 1)) return 'pooled';
  if (LINEAR.has(op)) return 'linear';
  return 'other';
}
