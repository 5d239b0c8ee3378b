import onnxProto from 'onnx-proto';
import type * as ort from 'onnxruntime-node';
import { float64Session, runFloat64 } from './float64-graph.js';

const { onnx } = onnxProto;

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
    const session = await float64Session({
      name: 'gram',
      nodes: [
        { opType: 'Transpose', input: ['X'], output: ['XT'], attribute: [{ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 0] }] },
        { opType: 'MatMul', input: ['XT', 'X'], output: ['G'] },
      ],
      input: { name: 'X', dims: ['rows', cols] },
      output: { name: 'G', dims: [cols, cols] },
    });
    return new OnnxGram(cols, session);
  }

  /** The cols x cols product of `rows` rows (row-major, rows x cols) with themselves. */
  async gram(block: Float64Array, rows: number): Promise<Float64Array> {
    if (this.session === null) throw new Error('OnnxGram has been disposed');
    if (block.length !== rows * this.cols) throw new RangeError(`OnnxGram: expected ${rows} x ${this.cols} values, got ${block.length}`);
    return runFloat64(this.session, 'X', 'G', block, [rows, this.cols]);
  }

  async dispose(): Promise<void> {
    const session = this.session;
    this.session = null;
    await session?.release();
  }
}
