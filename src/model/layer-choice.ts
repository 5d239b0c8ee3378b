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
 * - the raw input when it is small.
 * `candidates` are in graph order and exclude the class output itself.
 */
export function chooseLayers(candidates: readonly LayerCandidate[], inputWidth: number, inputName: string): LayerChoice {
  const withInput = inputWidth <= MAX_DEFAULT_INPUT_WIDTH;
  // A flatten of the raw input holds the input's own values.
  const sameAsInput = (c: LayerCandidate) => withInput && c.role === 'pooled' && c.width === inputWidth;
  const usable = candidates.filter(
    (c) => (c.role === 'representation' || c.role === 'pooled') && c.width <= MAX_DEFAULT_WIDTH && !sameAsInput(c),
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
  const order = new Map(candidates.map((c, i) => [c.name, i]));
  chosen.sort((a, b) => (order.get(a.candidate.name) ?? 0) - (order.get(b.candidate.name) ?? 0));
  const layers = chosen.map((c) => c.candidate.name);
  const reasons = chosen.map((c) => `${c.candidate.name}: ${c.reason}`);
  if (withInput) {
    layers.unshift(inputName);
    reasons.unshift(`${inputName}: the raw input, small enough to index (${inputWidth} <= ${MAX_DEFAULT_INPUT_WIDTH} values)`);
  }
  const skipped = candidates.filter((c) => (c.role === 'representation' || c.role === 'pooled') && c.width > MAX_DEFAULT_WIDTH);
  if (skipped.length > 0) {
    reasons.push(`not chosen, wider than ${MAX_DEFAULT_WIDTH} values: ${skipped.map((c) => `${c.name} (${c.width})`).join(', ')}`);
  }
  return { layers, reasons };
}

const ACTIVATIONS = new Set([
  'Relu', 'LeakyRelu', 'PRelu', 'Elu', 'Selu', 'Celu', 'Sigmoid', 'Tanh', 'Gelu', 'HardSigmoid', 'HardSwish',
  'Softplus', 'Softsign', 'Clip', 'Mish', 'ThresholdedRelu',
]);
// ReduceMean and ReduceMax are what PyTorch exports `x.mean(dim)` and `x.amax(dim)` as.
const POOLS = new Set(['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'LpPool', 'Flatten', 'ReduceMean', 'ReduceMax']);
const LINEAR = new Set(['Gemm', 'MatMul', 'Conv', 'ConvTranspose', 'Add', 'BatchNormalization']);

/** The role of an ONNX op's output. A Reshape to one dimension per instance is a flatten. */
export function onnxRole(op: string, shape: readonly number[]): LayerRole {
  if (ACTIVATIONS.has(op)) return 'representation';
  if (POOLS.has(op) || (op === 'Reshape' && shape.length === 1)) return 'pooled';
  if (LINEAR.has(op)) return 'linear';
  return 'other';
}
