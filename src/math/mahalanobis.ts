import { runSteps } from '../event-loop.js';
import { NotPositiveDefiniteError, choleskySteps, dot2x2, invertLower, invertLowerSteps, lowerTimesRows, solveLower } from './linalg.js';
import { assertMatrix, type Matrix } from './matrix.js';

export interface MahalanobisOptions {
  /**
   * Added to the covariance diagonal, relative to its mean diagonal entry (an absolute ridge
   * would mean different things for different layers). Default 1e-6. If the factorisation
   * still fails (rounding, or 0 on a singular covariance) the ridge is raised a decade at a
   * time; the model records the ridge that was used.
   */
  ridge?: number;
}

/** Class means and the Cholesky factor of the shared covariance, all float64. */
export interface MahalanobisModel {
  readonly dim: number;
  readonly classes: number;
  /** classes x dim, row-major. */
  readonly means: Float64Array;
  /** Lower-triangular L with L L^T = tied covariance + ridge I (dim x dim, row-major). */
  readonly choleskyFactor: Float64Array;
  /** L^{-1} mu_c for each class (classes x dim): the means in whitened coordinates. */
  readonly whitenedMeans: Float64Array;
  /** The absolute ridge actually added to the diagonal. */
  readonly ridge: number;
}

const DEFAULT_RIDGE = 1e-6;
// Rounding alone can still make a pivot of a barely regularised matrix non-positive; each retry
// multiplies the ridge by 10, so the last one is 1e4 times the requested ridge.
const RIDGE_ATTEMPTS = 5;

/**
 * Lee et al. 2018 without input preprocessing: one mean per class and one covariance shared by
 * all classes (the maximum-likelihood estimate, divided by N as in their code).
 *
 * Penultimate ReLU layers have dead units and linearly dependent units, so the covariance is
 * usually singular; the ridge makes it invertible. A direction that had no variance in training
 * then costs about 1 / ridge per unit squared, which is the point: moving along it is unusual.
 */
export function fitMahalanobis(
  features: Matrix,
  labels: Int32Array,
  classes: number,
  options: MahalanobisOptions = {},
): MahalanobisModel {
  const steps = fitSteps(features, labels, classes, options, features.rows);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * The same fit, pausing for the event loop every `rowsPerStep` rows: on a 784-dimensional input
 * layer with tens of thousands of rows the covariance takes tens of seconds, and a server
 * building its cache must keep answering /healthz meanwhile.
 */
export async function fitMahalanobisYielding(
  features: Matrix,
  labels: Int32Array,
  classes: number,
  options: MahalanobisOptions = {},
  rowsPerStep = 1000,
): Promise<MahalanobisModel> {
  return runSteps(fitSteps(features, labels, classes, options, rowsPerStep));
}

function* fitSteps(
  features: Matrix,
  labels: Int32Array,
  classes: number,
  options: MahalanobisOptions,
  rowsPerStep: number,
): Generator<void, MahalanobisModel> {
  assertMatrix(features, 'fitMahalanobis');
  const relativeRidge = checkedRidge(options);
  const means = classMeans(features, labels, classes);
  const covariance = yield* tiedCovariance(features, labels, means, rowsPerStep);
  return yield* factorised(covariance, means, features.cols, classes, relativeRidge);
}

/**
 * BᵀB of `rows` rows (row-major, rows x cols), all cols x cols entries: the one product a
 * covariance needs, done by whatever does it fastest (compute/onnx-gram.ts).
 */
export type GramKernel = (block: Float64Array, rows: number) => Promise<Float64Array>;

/**
 * Rows per Gram product: about 1e9 multiply-adds, a twentieth of a second on the fast kernel,
 * and at most 2^22 values (32 MB) in the block, however narrow the layer.
 */
const gramRows = (cols: number) => Math.max(64, Math.min(Math.floor(1e9 / (cols * cols)), Math.floor(2 ** 22 / cols)));

/**
 * The same fit with the covariance's products done by `gram`, a block of centred rows at a
 * time. The sums are the same to rounding (the kernel works in float64 too); only their order
 * differs.
 */
export async function fitMahalanobisWithGram(
  features: Matrix,
  labels: Int32Array,
  classes: number,
  gram: GramKernel,
  options: MahalanobisOptions = {},
): Promise<MahalanobisModel> {
  assertMatrix(features, 'fitMahalanobis');
  const relativeRidge = checkedRidge(options);
  const means = classMeans(features, labels, classes);
  const { data, rows, cols } = features;
  const covariance = new Float64Array(cols * cols);
  // No more rows than there are: a narrow layer's block would otherwise be gigabytes.
  const blockRows = Math.max(1, Math.min(gramRows(cols), rows));
  const block = new Float64Array(blockRows * cols);
  for (let start = 0; start < rows; start += blockRows) {
    const m = Math.min(blockRows, rows - start);
    for (let r = 0; r < m; r++) {
      const src = (start + r) * cols;
      const mean = labels[start + r] * cols;
      for (let j = 0, dst = r * cols; j < cols; j++, dst++) block[dst] = data[src + j] - means[mean + j];
    }
    const product = await gram(block.subarray(0, m * cols), m);
    // The lower triangle is all that the factorisation reads.
    for (let a = 0; a < cols; a++) for (let b = 0, ab = a * cols; b <= a; b++, ab++) covariance[ab] += product[ab];
  }
  for (let a = 0; a < cols; a++) for (let b = 0, ab = a * cols; b <= a; b++, ab++) covariance[ab] /= rows;
  return runSteps(factorised(covariance, means, cols, classes, relativeRidge));
}

function checkedRidge(options: MahalanobisOptions): number {
  const relativeRidge = options.ridge ?? DEFAULT_RIDGE;
  if (!(relativeRidge >= 0) || !Number.isFinite(relativeRidge)) {
    throw new RangeError(`fitMahalanobis: ridge must be finite and >= 0, got ${relativeRidge}`);
  }
  return relativeRidge;
}

/** The regularised Cholesky factor of the covariance, and the class means in its coordinates. */
function* factorised(covariance: Float64Array, means: Float64Array, dim: number, classes: number, relativeRidge: number): Generator<void, MahalanobisModel> {
  const { factor, ridge } = yield* regularisedCholesky(covariance, dim, relativeRidge);
  const whitenedMeans = new Float64Array(classes * dim);
  for (let c = 0; c < classes; c++) {
    solveLower(factor, dim, means.subarray(c * dim, (c + 1) * dim), whitenedMeans.subarray(c * dim, (c + 1) * dim));
  }
  return { dim, classes, means, choleskyFactor: factor, whitenedMeans, ridge };
}

/**
 * min over classes of (x - mu_c)^T Sigma^{-1} (x - mu_c), squared. With Sigma = L L^T that is
 * ||L^{-1} x - L^{-1} mu_c||^2, so each sample needs one triangular solve (O(dim^2)) however
 * many classes there are.
 */
export function mahalanobisOutlierScores(model: MahalanobisModel, features: Matrix): Float64Array {
  assertMatrix(features, 'mahalanobisOutlierScores', model.dim);
  // L^{-1} x for every row at once: the same values as a forward substitution per row (to
  // rounding), at the speed of a matrix product.
  const whitened = lowerTimesRows(inverseFactor(model), model.dim, features.data, features.rows);
  return nearestWhitenedMean(model, whitened, features.rows);
}

/**
 * The squared distance from each whitened row (L^{-1} x, rows x dim) to the nearest whitened
 * class mean: the second half of the score, for callers that whiten on a faster kernel.
 */
export function nearestWhitenedMean(model: MahalanobisModel, whitened: Float64Array, rows: number): Float64Array {
  const { dim, classes, whitenedMeans } = model;
  if (whitened.length !== rows * dim) throw new RangeError(`nearestWhitenedMean: expected ${rows} x ${dim} values, got ${whitened.length}`);
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let best = Infinity;
    for (let c = 0; c < classes; c++) {
      let sum = 0;
      for (let j = 0, m = c * dim, x = i * dim; j < dim; j++, m++, x++) {
        const diff = whitened[x] - whitenedMeans[m];
        sum += diff * diff;
      }
      if (sum < best) best = sum;
    }
    // A NaN feature makes every distance NaN and `sum < best` never true; report NaN, not Infinity.
    out[i] = best === Infinity ? NaN : best;
  }
  return out;
}

/** L^{-1} of each model, computed once (0.1 s at 784 dimensions) and kept as long as the model. */
const inverses = new WeakMap<MahalanobisModel, Float64Array>();

/** L^{-1}: multiplied by an input, it gives the whitened coordinates the distances are taken in. */
export function inverseFactor(model: MahalanobisModel): Float64Array {
  let inverse = inverses.get(model);
  if (!inverse) {
    inverse = invertLower(model.choleskyFactor, model.dim);
    inverses.set(model, inverse);
  }
  return inverse;
}

/** About a tenth of a second of work between pauses for the event loop. */
const INVERSE_OPS_PER_STEP = 5e7;

/**
 * L^{-1}, computed in slices with pauses for the event loop and not kept: for a caller that
 * hands it to a kernel of its own. In one piece, the inverse of a 1,568-wide layer would stall
 * the loop for over a second, and load shedding would then refuse the first requests after
 * start-up.
 */
export function whiteningMatrix(model: MahalanobisModel): Promise<Float64Array> {
  const cached = inverses.get(model);
  if (cached) return Promise.resolve(cached);
  return runSteps(invertLowerSteps(model.choleskyFactor, model.dim, INVERSE_OPS_PER_STEP));
}

/** Computes what mahalanobisOutlierScores needs ahead of the first request, pausing as it goes. */
export async function prepareMahalanobis(model: MahalanobisModel): Promise<void> {
  if (inverses.has(model)) return;
  inverses.set(model, await whiteningMatrix(model));
}

function classMeans(features: Matrix, labels: Int32Array, classes: number): Float64Array {
  const { data, rows, cols } = features;
  if (!Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`fitMahalanobis: classes must be a positive integer, got ${classes}`);
  }
  if (labels.length !== rows) {
    throw new RangeError(`fitMahalanobis: ${rows} feature rows but ${labels.length} labels`);
  }
  const sums = new Float64Array(classes * cols);
  const counts = new Int32Array(classes);
  for (let i = 0; i < rows; i++) {
    const label = labels[i];
    if (label < 0 || label >= classes) {
      throw new RangeError(`fitMahalanobis: label ${label} at row ${i} is outside 0..${classes - 1}`);
    }
    counts[label]++;
    for (let j = 0, src = i * cols, dst = label * cols; j < cols; j++) sums[dst + j] += data[src + j];
  }
  for (let c = 0; c < classes; c++) {
    // A class without samples has no mean; skipping it silently would hide a wrong class count.
    if (counts[c] === 0) throw new RangeError(`fitMahalanobis: class ${c} has no training samples`);
    for (let j = 0, m = c * cols; j < cols; j++) sums[m + j] /= counts[c];
  }
  for (const v of sums) if (!Number.isFinite(v)) throw new RangeError('fitMahalanobis: features must be finite');
  return sums;
}

/** Rows centred and transposed together: the block the covariance kernel reads. */
const BLOCK_ROWS = 64;

/**
 * Lower triangle of (1 / N) sum_i (x_i - mu_{y_i})(x_i - mu_{y_i})^T; cholesky reads no more.
 *
 * Rows go in blocks of 64, centred and transposed, so each covariance entry gains a dot product
 * of 64 contiguous values per pass instead of one product per row: the dim x dim matrix (20 MB
 * at 1,568 dimensions) is then read and written once a block, not once a row. Entries are
 * computed two rows by two columns at a time, four sums from four loads. About four times as fast
 * as a rank-one update per row, to within 1e-12 of it.
 */
function* tiedCovariance(
  features: Matrix,
  labels: Int32Array,
  means: Float64Array,
  rowsPerStep: number,
): Generator<void, Float64Array> {
  const { data, rows, cols } = features;
  const covariance = new Float64Array(cols * cols);
  const block = new Float64Array(cols * BLOCK_ROWS);
  let sinceYield = 0;
  for (let start = 0; start < rows; start += BLOCK_ROWS) {
    const m = Math.min(BLOCK_ROWS, rows - start);
    // A short last block is padded with zero rows, which add nothing.
    if (m < BLOCK_ROWS) block.fill(0);
    for (let r = 0; r < m; r++) {
      const src = (start + r) * cols;
      const mean = labels[start + r] * cols;
      for (let j = 0; j < cols; j++) block[j * BLOCK_ROWS + r] = data[src + j] - means[mean + j];
    }
    accumulateBlock(block, cols, covariance);
    sinceYield += m;
    if (sinceYield >= rowsPerStep && start + m < rows) {
      sinceYield = 0;
      yield;
    }
  }
  for (let a = 0; a < cols; a++) for (let b = 0, ab = a * cols; b <= a; b++, ab++) covariance[ab] /= rows;
  return covariance;
}

/** covariance[a][b] += dot(block[a], block[b]) for b <= a, over rows of BLOCK_ROWS values. */
function accumulateBlock(block: Float64Array, cols: number, covariance: Float64Array): void {
  const sums = new Float64Array(4);
  for (let a = 0; a < cols; a += 2) {
    const a1 = Math.min(a + 1, cols - 1);
    const oa = a * BLOCK_ROWS;
    const oa1 = a1 * BLOCK_ROWS;
    for (let b = 0; b <= a1; b += 2) {
      const b1 = Math.min(b + 1, cols - 1);
      const ob = b * BLOCK_ROWS;
      const ob1 = b1 * BLOCK_ROWS;
      dot2x2(block, oa, oa1, block, ob, ob1, BLOCK_ROWS, sums);
      // At an odd last row or column a1 = a or b1 = b: each entry is added once.
      if (b <= a) covariance[a * cols + b] += sums[0];
      if (b1 !== b && b1 <= a) covariance[a * cols + b1] += sums[1];
      if (a1 !== a) {
        if (b <= a1) covariance[a1 * cols + b] += sums[2];
        if (b1 !== b && b1 <= a1) covariance[a1 * cols + b1] += sums[3];
      }
    }
  }
}

/** About a tenth of a second of the factorisation between pauses for the event loop. */
const CHOLESKY_OPS_PER_STEP = 5e7;

function* regularisedCholesky(
  covariance: Float64Array,
  dim: number,
  relativeRidge: number,
): Generator<void, { factor: Float64Array; ridge: number }> {
  let trace = 0;
  for (let j = 0; j < dim; j++) trace += covariance[j * dim + j];
  // With no variance at all there is no scale to be relative to; unit scale keeps it invertible.
  const scale = trace > 0 ? trace / dim : 1;
  let ridge = relativeRidge * scale;
  for (let attempt = 1; ; attempt++) {
    const shifted = Float64Array.from(covariance);
    for (let j = 0; j < dim; j++) shifted[j * dim + j] += ridge;
    try {
      return { factor: yield* choleskySteps(shifted, dim, CHOLESKY_OPS_PER_STEP), ridge };
    } catch (err) {
      if (!(err instanceof NotPositiveDefiniteError) || attempt === RIDGE_ATTEMPTS) throw err;
      // A zero ridge that failed needs a start; otherwise step up by a decade.
      ridge = ridge > 0 ? ridge * 10 : DEFAULT_RIDGE * scale;
    }
  }
}
