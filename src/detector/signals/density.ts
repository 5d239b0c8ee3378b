import { z } from 'zod';
import { OnnxGram } from '../../compute/onnx-gram.js';
import { OnnxLinear } from '../../compute/onnx-linear.js';
import {
  fitMahalanobisWithGram,
  mahalanobisOutlierScores,
  nearestWhitenedMean,
  prepareMahalanobis,
  whiteningMatrix,
  type MahalanobisModel,
} from '../../math/mahalanobis.js';
import { assertMatrix, type Matrix } from '../../math/matrix.js';
import { logSumSignal } from './layer-scales.js';
import type { ReferenceModel } from './signal.js';

/**
 * Layers at least this wide whiten on onnxruntime's GEMM; narrower ones in the JavaScript loop.
 * `npm run bench:density`: from 256 dimensions on the GEMM wins at every batch size; at 64 and
 * 128 its fixed cost per call makes a lone row slower than the loop, and a lone row is where
 * latency counts. The choice depends on the width alone, never on the batch, so a row's value
 * is the same alone or batched.
 */
export const GEMM_MIN_WIDTH = 256;

/**
 * Each wide model's whitening (L^{-1} x) on onnxruntime, made once per model and thread. It is
 * most of a density measurement: at 784 dimensions several times as fast as the JavaScript loop
 * for a batch of 32, and faster for one row too, since the kernel reads only the triangle.
 */
const whitenings = new WeakMap<MahalanobisModel, Promise<OnnxLinear>>();
/** Models whose kernel was released: measuring one again would make a kernel nothing frees. */
const released = new WeakSet<MahalanobisModel>();

function assertNotReleased(model: MahalanobisModel): void {
  if (released.has(model)) throw new Error('this density model was released; it cannot measure any more');
}

function whitening(model: MahalanobisModel): Promise<OnnxLinear> {
  let kernel = whitenings.get(model);
  if (!kernel) {
    kernel = whiteningMatrix(model).then((inverse) => OnnxLinear.create(inverse, model.dim, model.dim, { lowerTriangular: true }));
    whitenings.set(model, kernel);
    // A failed creation is not kept: the next measurement tries again and reports its own error.
    kernel.catch(() => whitenings.delete(model));
  }
  return kernel;
}

/** What scoring needs ahead of the first request, computed in slices: the kernel, or the loop's inverse. */
async function prepareDensity(model: MahalanobisModel): Promise<void> {
  assertNotReleased(model);
  if (model.dim >= GEMM_MIN_WIDTH) await whitening(model);
  else await prepareMahalanobis(model);
}

async function measureDensity(model: MahalanobisModel, activations: Matrix): Promise<Float64Array> {
  assertNotReleased(model);
  if (model.dim < GEMM_MIN_WIDTH) return mahalanobisOutlierScores(model, activations);
  assertMatrix(activations, 'density', model.dim);
  const whitened = await (await whitening(model)).apply(activations.data, activations.rows);
  return nearestWhitenedMean(model, whitened, activations.rows);
}

const Meta = z.object({ classes: z.number().int().positive(), ridge: z.number().nonnegative() });

/** A tied-covariance Mahalanobis fit per layer, on raw activations. */
export const mahalanobisReference: ReferenceModel<MahalanobisModel> = {
  async fit(activations, labels, classes) {
    // The covariance's products on onnxruntime's GEMM, in float64: ten times as fast as the loop.
    const gram = await OnnxGram.create(activations.cols);
    let model;
    try {
      model = await fitMahalanobisWithGram(activations, labels, classes, (block, rows) => gram.gram(block, rows));
    } finally {
      await gram.dispose();
    }
    // Now, in slices: the calibration's scoring would otherwise compute it in one piece.
    await prepareDensity(model);
    return model;
  },
  prepare: prepareDensity,
  async release(model) {
    released.add(model);
    const kernel = whitenings.get(model);
    whitenings.delete(model);
    await (await kernel?.catch(() => undefined))?.dispose();
  },
  /** One float64 file: means, then the Cholesky factor, then the whitened means. */
  encode(m) {
    const all = new Float64Array(2 * m.classes * m.dim + m.dim * m.dim);
    all.set(m.means, 0);
    all.set(m.choleskyFactor, m.classes * m.dim);
    all.set(m.whitenedMeans, m.classes * m.dim + m.dim * m.dim);
    return { bytes: new Uint8Array(all.buffer), meta: { classes: m.classes, ridge: m.ridge } };
  },
  decode(bytes, meta, dim) {
    const { classes, ridge } = Meta.parse(meta);
    const expected = 8 * (2 * classes * dim + dim * dim);
    if (bytes.byteLength !== expected) throw new Error(`density file has ${bytes.byteLength} bytes, expected ${expected}`);
    const all = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const a = classes * dim;
    return { dim, classes, ridge, means: all.subarray(0, a), choleskyFactor: all.subarray(a, a + dim * dim), whitenedMeans: all.subarray(a + dim * dim) };
  },
  measure: measureDensity,
};

/**
 * The squared Mahalanobis distance to the nearest class mean in each layer. It sees what the
 * neighbour search cannot: directions in which the reference data never varies (ink where no
 * digit has any, say) cost far more than their Euclidean length.
 */
export const densitySignal = logSumSignal({ name: 'density', reference: mahalanobisReference });
