import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';

// A CommonJS package: its namespace is a property of the default export under ESM.
const { onnx } = onnxProto;
const DOUBLE = 11;

/**
 * BᵀB of a block of float64 rows, on onnxruntime: a two-node graph (Transpose, MatMul) in
 * double precision, so the sums are the same as a JavaScript loop's to rounding (1e-12), at the
 * speed of a blocked, vectorised GEMM on every core. A density fit's covariance is nothing but
 * such products, and in JavaScript it took most of a cold build (19 s of fashion-mnist's, 92 s
 * for a 1,568-wide layer). onnxruntime runs the product off the event loop.
 */
export class OnnxGram {
  private constructor(
    readonly cols: number,
    private session: ort.InferenceSession | null,
  ) {}

  static async create(cols: number): Promise<OnnxGram> {
    if (!Number.isInteger(cols) || cols < 1) throw new RangeError(`OnnxGram needs a positive width, got ${cols}`);
    const shape = (dims: (number | string)[]) => ({ dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'gram',
        node: [
          { opType: 'Transpose', input: ['X'], output: ['XT'], attribute: [{ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 0] }] },
          { opType: 'MatMul', input: ['XT', 'X'], output: ['G'] },
        ],
        input: [{ name: 'X', type: { tensorType: { elemType: DOUBLE, shape: shape(['rows', cols]) } } }],
        output: [{ name: 'G', type: { tensorType: { elemType: DOUBLE, shape: shape([cols, cols]) } } }],
      },
    });
    const bytes = onnx.ModelProto.encode(model).finish();
    const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', logSeverityLevel: 3 });
    return new OnnxGram(cols, session);
  }

  /** The cols x cols product of `rows` rows (row-major, rows x cols) with themselves. */
  async gram(block: Float64Array, rows: number): Promise<Float64Array> {
    if (this.session === null) throw new Error('OnnxGram has been disposed');
    if (block.length !== rows * this.cols) throw new RangeError(`OnnxGram: expected ${rows} x ${this.cols} values, got ${block.length}`);
    const input = new ort.Tensor('float64', block, [rows, this.cols]);
    const { G } = await this.session.run({ X: input });
    try {
      return Float64Array.from(G.data as Float64Array);
    } finally {
      G.dispose();
    }
  }

  async dispose(): Promise<void> {
    const session = this.session;
    this.session = null;
    await session?.release();
  }
}
