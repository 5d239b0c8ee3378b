import onnxProto from 'onnx-proto';
import type * as ort from 'onnxruntime-node';
import { float64Session, runFloat64, type Float64GraphSpec } from './float64-graph.js';

export interface OnnxLinearOptions {
  /**
   * W is lower-triangular (square, zero above the diagonal): its rows go in bands of at most 128,
   * each multiplying only the inputs up to its diagonal, so at 784 dimensions 43% of W is neither
   * stored nor read (none of it below 129, where one band holds every row). For one row W x is
   * as fast as W can be read from memory, so what is not read is time saved.
   */
  lowerTriangular?: boolean;
}

/** Rows of a lower-triangular W per band: few bands for a narrow layer, at most eight for any. */
const BAND_ROWS = 128;
const MAX_BANDS = 8;

/**
 * x ↦ W x for every row x of a batch, with one fixed matrix W (outputs x inputs), in float64
 * on onnxruntime's GEMM, on one thread. A density measurement is such a product (the whitening
 * of each row): `npm run bench:density` compares it with the JavaScript loop. A row's result does
 * not depend on the rows it is batched with (a test holds the kernel to it), so a prediction is
 * the same alone or batched.
 */
export class OnnxLinear {
  private constructor(
    readonly outputs: number,
    readonly inputs: number,
    private session: ort.InferenceSession | null,
  ) {}

  /** `weights` is W, row-major (outputs x inputs); what the product reads of it is copied into the session. */
  static async create(weights: Float64Array, outputs: number, inputs: number, options: OnnxLinearOptions = {}): Promise<OnnxLinear> {
    for (const [what, n] of [['outputs', outputs], ['inputs', inputs]] as const) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`OnnxLinear needs a positive number of ${what}, got ${n}`);
    }
    if (weights.length !== outputs * inputs) throw new RangeError(`OnnxLinear: expected ${outputs} x ${inputs} weights, got ${weights.length}`);
    if (options.lowerTriangular) assertLowerTriangular(weights, outputs, inputs);
    const bands = options.lowerTriangular ? Math.min(MAX_BANDS, Math.ceil(outputs / BAND_ROWS)) : 1;
    const session = await float64Session({ ...bandedProduct(weights, outputs, inputs, bands), threads: 1 });
    return new OnnxLinear(outputs, inputs, session);
  }

  /** W x for each of `rows` rows (row-major, rows x inputs): rows x outputs, row-major. */
  async apply(x: ArrayLike<number>, rows: number): Promise<Float64Array> {
    if (this.session === null) throw new Error('OnnxLinear has been disposed');
    if (x.length !== rows * this.inputs) throw new RangeError(`OnnxLinear: expected ${rows} x ${this.inputs} values, got ${x.length}`);
    if (rows === 0) return new Float64Array(0);
    return runFloat64(this.session, 'X', 'Y', x instanceof Float64Array ? x : Float64Array.from(x), [rows, this.inputs]);
  }

  async dispose(): Promise<void> {
    const session = this.session;
    this.session = null;
    await session?.release();
  }
}

/** The bands leave out what is above the diagonal: it must be zero, or the product would be wrong. */
function assertLowerTriangular(weights: Float64Array, outputs: number, inputs: number): void {
  if (outputs !== inputs) throw new RangeError(`OnnxLinear: a lower-triangular W is square, got ${outputs} x ${inputs}`);
  for (let o = 0; o < outputs; o++) {
    for (let i = o + 1; i < inputs; i++) {
      const w = weights[o * inputs + i];
      if (w !== 0) throw new RangeError(`OnnxLinear: W[${o}][${i}] = ${w} is above the diagonal of a lower-triangular W`);
    }
  }
}

/**
 * The graph of Y = X Wᵀ with W's rows cut into `bands`: band b's outputs are X's first `end_b`
 * columns times the transpose of W's rows in the band, up to column end_b, where end_b is the
 * band's last row + 1 when W is lower-triangular (`bands` > 1) and all columns otherwise. The
 * bands' outputs are concatenated in order. Every output is the same sum, in the same order,
 * as one MatMul over the full rows would give, less the products with zeros, to rounding (the
 * GEMM may group a shorter sum differently).
 */
function bandedProduct(weights: Float64Array, outputs: number, inputs: number, bands: number): Omit<Float64GraphSpec, 'threads'> {
  const nodes: Float64GraphSpec['nodes'] = [];
  const constants: NonNullable<Float64GraphSpec['constants']> = {};
  const parts: string[] = [];
  for (let b = 0; b < bands; b++) {
    const start = Math.round((b * outputs) / bands);
    const end = Math.round(((b + 1) * outputs) / bands);
    const width = bands === 1 ? inputs : end;
    const transposed = new Float64Array(width * (end - start));
    for (let o = start; o < end; o++) for (let i = 0; i < width; i++) transposed[i * (end - start) + (o - start)] = weights[o * inputs + i];
    constants[`W${b}`] = { values: transposed, dims: [width, end - start] };
    let x = 'X';
    if (width < inputs) {
      constants[`end${b}`] = { values: BigInt64Array.of(BigInt(width)), dims: [1] };
      x = `X${b}`;
      nodes.push({ opType: 'Slice', input: ['X', 'zero', `end${b}`, 'columns'], output: [x] });
    }
    const y = bands === 1 ? 'Y' : `Y${b}`;
    nodes.push({ opType: 'MatMul', input: [x, `W${b}`], output: [y] });
    parts.push(y);
  }
  if (bands > 1) {
    constants.zero = { values: BigInt64Array.of(0n), dims: [1] };
    constants.columns = { values: BigInt64Array.of(1n), dims: [1] };
    nodes.push({ opType: 'Concat', input: parts, output: ['Y'], attribute: [{ name: 'axis', type: onnxProto.onnx.AttributeProto.AttributeType.INT, i: 1 }] });
  }
  return {
    name: 'linear',
    nodes,
    input: { name: 'X', dims: ['rows', inputs] },
    output: { name: 'Y', dims: ['rows', outputs] },
    constants,
  };
}
