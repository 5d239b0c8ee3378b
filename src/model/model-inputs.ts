import { z } from 'zod';

/**
 * A model's inputs as named tensors, and how one instance of all of them travels through the
 * service: as one row of float32 values, every input's values in turn, in the model's input
 * order (the "packed row"). The detector, the batching, the scoring threads, the review and the
 * reference sets all handle rows of numbers; only the runtime splits a row back into typed
 * tensors. Integer inputs (token ids, masks, category codes) are exact in float32 up to 2^24,
 * far beyond any vocabulary, and values outside that range are refused where they enter.
 */

export const INPUT_DTYPES = ['float32', 'float64', 'int64', 'int32', 'uint8', 'bool'] as const;
export type InputDtype = (typeof INPUT_DTYPES)[number];

export const ModelInputSchema = z.object({
  /** The model's own name for the input (ONNX graph input, tfjs input layer). */
  name: z.string().min(1),
  dtype: z.enum(INPUT_DTYPES),
  /** Per-instance shape, the batch dimension removed. */
  shape: z.array(z.number().int().positive()).min(1),
  /**
   * Each instance's values are a probability vector (a features model's class scores given as
   * probabilities): every value in [0, 1], together 1 within PROBABILITY_SUM_TOLERANCE.
   */
  probabilities: z.literal(true).optional(),
});
export type ModelInput = z.infer<typeof ModelInputSchema>;

/** The largest integer every integer in [-2^24, 2^24] shares with float32: ids stay exact in a packed row. */
export const MAX_EXACT_INTEGER = 2 ** 24;
/** Values beyond this become Infinity in a Float32Array, though they are finite in JSON. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** The values an element of each type may take in a packed row. */
const RANGES: Record<InputDtype, { min: number; max: number; integer: boolean }> = {
  float32: { min: -FLOAT32_MAX, max: FLOAT32_MAX, integer: false },
  float64: { min: -FLOAT32_MAX, max: FLOAT32_MAX, integer: false },
  int64: { min: -MAX_EXACT_INTEGER, max: MAX_EXACT_INTEGER, integer: true },
  int32: { min: -MAX_EXACT_INTEGER, max: MAX_EXACT_INTEGER, integer: true },
  uint8: { min: 0, max: 255, integer: true },
  bool: { min: 0, max: 1, integer: true },
};

export function isIntegerDtype(dtype: InputDtype): boolean {
  return RANGES[dtype].integer;
}

export const inputWidth = (input: Pick<ModelInput, 'shape'>): number => input.shape.reduce((a, b) => a * b, 1);

/** Where each input's values sit in a packed row. */
export interface InputLayout {
  inputs: readonly ModelInput[];
  offsets: number[];
  /** Values per packed row: the sum of every input's width. */
  width: number;
}

export function inputLayout(inputs: readonly ModelInput[]): InputLayout {
  const offsets: number[] = [];
  let width = 0;
  for (const input of inputs) {
    offsets.push(width);
    width += inputWidth(input);
  }
  return { inputs, offsets, width };
}

/**
 * Why `x` cannot be an element of `dtype`, or undefined when it can. JSON booleans are the
 * natural way to send a bool tensor, so they count as 0 and 1 there; elsewhere they are refused.
 */
export function elementProblem(x: unknown, dtype: InputDtype): string | undefined {
  if (typeof x === 'boolean' && dtype === 'bool') return undefined;
  const range = RANGES[dtype];
  if (typeof x !== 'number') return `must be ${describeDtype(dtype)}, got ${describeValue(x)}`;
  if (!(x >= range.min && x <= range.max) || (range.integer && !Number.isInteger(x))) {
    return `must be ${describeDtype(dtype)}, got ${Number.isNaN(x) ? 'NaN' : String(x)}`;
  }
  return undefined;
}

/** The element as it is stored in a packed row; call after elementProblem found none. */
export function elementValue(x: unknown): number {
  return typeof x === 'boolean' ? Number(x) : (x as number);
}

export function describeDtype(dtype: InputDtype): string {
  switch (dtype) {
    case 'float32':
    case 'float64':
      return 'a finite number within float32 range';
    case 'uint8':
      return 'a whole number from 0 to 255';
    case 'bool':
      return 'true, false, 0 or 1';
    default:
      return `a whole number within ±${MAX_EXACT_INTEGER} (${dtype})`;
  }
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return String(value);
  // A string's contents stay out: messages reach the logs, and request bodies never do.
  return `a ${typeof value}`;
}

/** One input as documents and messages show it: `input_ids (int64 [128])`. */
export function showInput(input: ModelInput): string {
  return `${input.name} (${input.dtype} [${input.shape.join(', ')}])`;
}

/**
 * Every packed value of one input, for `rows` rows, as its own contiguous array: what a runtime
 * feeds. Float inputs need no conversion, so the caller converts into its runtime's type.
 */
export function gatherInput(packed: Float32Array, rows: number, layout: InputLayout, index: number): Float32Array {
  const width = inputWidth(layout.inputs[index]);
  if (layout.inputs.length === 1) return packed.subarray(0, rows * width);
  const out = new Float32Array(rows * width);
  const offset = layout.offsets[index];
  for (let r = 0; r < rows; r++) {
    out.set(packed.subarray(r * layout.width + offset, r * layout.width + offset + width), r * width);
  }
  return out;
}

/** The manifest's `input_shape` for these inputs: the one input's shape, or the packed row's width. */
export function packedShape(inputs: readonly ModelInput[]): number[] {
  return inputs.length === 1 ? [...inputs[0].shape] : [inputLayout(inputs).width];
}

/** A manifest's `inputs` field for these inputs: left out for one float32 input, which is what its absence means. */
export function inputsField(inputs: readonly ModelInput[]): { inputs?: ModelInput[] } {
  const plain = inputs.length === 1 && inputs[0].dtype === 'float32';
  return plain ? {} : { inputs: inputs.map((i) => ({ ...i, shape: [...i.shape] })) };
}

/**
 * How far a probability vector's sum may stray from 1: float32 softmax outputs, and ten or twenty
 * classes' values rounded to three decimals for JSON, pass; logits, which sum to 1 only by
 * chance, do not.
 */
export const PROBABILITY_SUM_TOLERANCE = 0.01;

/** A value of packed rows that its input cannot hold: the input, and a sentence naming the row. */
export interface InvalidValue {
  input: string;
  message: string;
}

/**
 * The first row of a probability input (`probabilities: true`) that is not one (called `row` in
 * the sentence: a request says "instance"); undefined when all are.
 */
export function firstImprobableRow(data: Float32Array, rows: number, layout: InputLayout, row = 'row'): InvalidValue | undefined {
  const why = 'the model\'s class scores are probabilities: each in [0, 1], summing to 1';
  for (const [j, input] of layout.inputs.entries()) {
    if (!input.probabilities) continue;
    const width = inputWidth(input);
    for (let r = 0; r < rows; r++) {
      const start = r * layout.width + layout.offsets[j];
      let sum = 0;
      for (let i = 0; i < width; i++) {
        const v = data[start + i];
        if (!(v >= 0 && v <= 1)) return { input: input.name, message: `${row} ${r}, input ${input.name}: value ${i} is ${Number(v.toPrecision(7))}, not a probability (${why})` };
        sum += v;
      }
      if (Math.abs(sum - 1) > PROBABILITY_SUM_TOLERANCE) {
        return { input: input.name, message: `${row} ${r}, input ${input.name}: sums to ${Number(sum.toPrecision(6))}, not 1 (${why} within ${PROBABILITY_SUM_TOLERANCE})` };
      }
    }
  }
  return undefined;
}

/**
 * The first value of packed rows that its input's type cannot hold (a token id of 1.5, a mask
 * of 2, class scores that should be probabilities and are not); undefined when all fit. Float
 * inputs are finite by the time rows are read, so only the others are walked.
 */
export function firstInvalidValue(data: Float32Array, rows: number, layout: InputLayout): InvalidValue | undefined {
  const improbable = firstImprobableRow(data, rows, layout);
  if (improbable !== undefined) return improbable;
  for (const [j, input] of layout.inputs.entries()) {
    if (input.dtype === 'float32' || input.dtype === 'float64') continue;
    const width = inputWidth(input);
    for (let r = 0; r < rows; r++) {
      const start = r * layout.width + layout.offsets[j];
      for (let i = 0; i < width; i++) {
        const problem = elementProblem(data[start + i], input.dtype);
        if (problem !== undefined) return { input: input.name, message: `row ${r}, input ${input.name}, value ${i} ${problem}` };
      }
    }
  }
  return undefined;
}
