import type { Matrix } from './matrix.js';

/** `euclidean` is the squared Euclidean distance; `cosine` is 1 - cos(x_i, x_j). */
export type DistanceKind = 'euclidean' | 'cosine';

export interface TemperatureSearchOptions {
  /** Lowest grid point, in decades relative to the median pairwise distance. Default -3. */
  minLog10?: number;
  /** Highest grid point, in decades relative to the median pairwise distance. Default 3. */
  maxLog10?: number;
  /** Grid points before the golden-section refinement. Default 25 (a quarter decade apart). */
  steps?: number;
}

/**
 * Pairwise distances plus which anchors count. Built once per (x, labels, distance) so a
 * temperature search only pays the O(b^2 d) distance cost once.
 */
interface PreparedBatch {
  size: number;
  distances: Float64Array;
  labels: ArrayLike<number>;
  /** Anchors that have at least one classmate in the batch; the others are skipped. */
  anchors: Int32Array;
}

/**
 * Soft nearest neighbour loss (docs/design.md §1), in float64 and in log space.
 *
 * An anchor with no other member of its class in the batch has an empty numerator, so its term
 * is log(0): it is skipped and the mean runs over the remaining anchors. When no anchor
 * qualifies (every class is a singleton, or the batch has fewer than two points) the result is
 * 0, the same value the differentiable `snnlLoss` gives, because a training step must not see NaN.
 * Callers that analyse entanglement should make sure some class has two members.
 */
export function snnl(
  x: Matrix,
  labels: ArrayLike<number>,
  temperature: number,
  distance: DistanceKind = 'euclidean',
): number {
  checkTemperature(temperature);
  return snnlPrepared(prepare(x, labels, distance), temperature);
}

/**
 * T* = argmin_T SNNL(x, y, T), the temperature at which the paper reads entanglement.
 *
 * The grid is laid out around the median pairwise distance, so the same defaults fit data of
 * any scale (T only ever appears as d / T). The best grid point is refined by golden-section
 * search on log T between its neighbours. A minimum at the grid's edge is returned as is: SNNL
 * keeps falling as T -> 0 when every point's nearest neighbour is a classmate.
 */
export function optimalTemperature(
  x: Matrix,
  labels: ArrayLike<number>,
  distance: DistanceKind = 'euclidean',
  opts: TemperatureSearchOptions = {},
): { temperature: number; snnl: number } {
  const minLog10 = opts.minLog10 ?? -3;
  const maxLog10 = opts.maxLog10 ?? 3;
  const steps = opts.steps ?? 25;
  if (!(maxLog10 > minLog10) || !Number.isInteger(steps) || steps < 3) {
    throw new RangeError('optimalTemperature needs maxLog10 > minLog10 and an integer steps >= 3');
  }
  const batch = prepare(x, labels, distance);
  const scaleLog10 = Math.log10(typicalDistance(batch));
  const f = (log10T: number): number => snnlPrepared(batch, 10 ** (scaleLog10 + log10T));

  const grid = new Float64Array(steps);
  const values = new Float64Array(steps);
  let best = 0;
  for (let s = 0; s < steps; s++) {
    grid[s] = minLog10 + ((maxLog10 - minLog10) * s) / (steps - 1);
    values[s] = f(grid[s]);
    if (values[s] < values[best]) best = s;
  }

  let log10T = grid[best];
  let value = values[best];
  if (best > 0 && best < steps - 1) {
    const refined = goldenSectionMin(f, grid[best - 1], grid[best + 1]);
    // The bracket may hold a second dip the grid missed; never return worse than the grid.
    if (refined.value <= value) {
      log10T = refined.x;
      value = refined.value;
    }
  }
  return { temperature: 10 ** (scaleLog10 + log10T), snnl: value };
}

function checkTemperature(temperature: number): void {
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new RangeError(`temperature must be a finite positive number, got ${temperature}`);
  }
}

function prepare(x: Matrix, labels: ArrayLike<number>, distance: DistanceKind): PreparedBatch {
  if (labels.length !== x.rows) {
    throw new RangeError(`labels has ${labels.length} entries but x has ${x.rows} rows`);
  }
  const size = x.rows;
  const classSizes = new Map<number, number>();
  for (let i = 0; i < size; i++) classSizes.set(labels[i], (classSizes.get(labels[i]) ?? 0) + 1);
  const anchorList: number[] = [];
  for (let i = 0; i < size; i++) if ((classSizes.get(labels[i]) ?? 0) >= 2) anchorList.push(i);
  return {
    size,
    distances: distance === 'cosine' ? cosineDistances(x) : squaredEuclideanDistances(x),
    labels,
    anchors: Int32Array.from(anchorList),
  };
}

/** Differences are summed directly rather than via |a|^2 + |b|^2 - 2ab, which cancels badly. */
function squaredEuclideanDistances(x: Matrix): Float64Array {
  const { rows, cols, data } = x;
  const out = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    for (let j = i + 1; j < rows; j++) {
      let sum = 0;
      for (let c = 0; c < cols; c++) {
        const diff = data[i * cols + c] - data[j * cols + c];
        sum += diff * diff;
      }
      out[i * rows + j] = sum;
      out[j * rows + i] = sum;
    }
  }
  return out;
}

/** A zero row has no direction: its cosine with anything is taken as 0, so its distance is 1. */
function cosineDistances(x: Matrix): Float64Array {
  const { rows, cols, data } = x;
  const norms = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += data[i * cols + c] * data[i * cols + c];
    norms[i] = Math.sqrt(sum);
  }
  const out = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    for (let j = i + 1; j < rows; j++) {
      let dot = 0;
      for (let c = 0; c < cols; c++) dot += data[i * cols + c] * data[j * cols + c];
      const denom = norms[i] * norms[j];
      const cos = denom > 0 ? dot / denom : 0;
      // Rounding can push cos a hair past +-1; distances stay inside [0, 2].
      const d = Math.min(2, Math.max(0, 1 - cos));
      out[i * rows + j] = d;
      out[j * rows + i] = d;
    }
  }
  return out;
}

function snnlPrepared(batch: PreparedBatch, temperature: number): number {
  const { size, distances, labels, anchors } = batch;
  if (anchors.length === 0) return 0;
  let total = 0;
  for (const i of anchors) {
    // Shifting every logit of row i by its nearest distance leaves the ratio unchanged and keeps
    // the largest logit at exactly 0, so neither sum can overflow or underflow to log(0).
    let nearest = Infinity;
    for (let k = 0; k < size; k++) {
      if (k !== i && distances[i * size + k] < nearest) nearest = distances[i * size + k];
    }
    let nearestSame = Infinity;
    for (let j = 0; j < size; j++) {
      if (j !== i && labels[j] === labels[i] && distances[i * size + j] < nearestSame) {
        nearestSame = distances[i * size + j];
      }
    }
    let sumAll = 0;
    let sumSame = 0;
    for (let k = 0; k < size; k++) {
      if (k === i) continue;
      const d = distances[i * size + k];
      sumAll += Math.exp(-(d - nearest) / temperature);
      if (labels[k] === labels[i]) sumSame += Math.exp(-(d - nearestSame) / temperature);
    }
    const logSame = -(nearestSame - nearest) / temperature + Math.log(sumSame);
    total += logSame - Math.log(sumAll);
  }
  // 0 - total rather than -total: a perfectly separated batch reports 0, not -0.
  return (0 - total) / anchors.length;
}

/** Median off-diagonal distance: the unit the temperature grid is laid out in. */
function typicalDistance(batch: PreparedBatch): number {
  const { size, distances } = batch;
  const upper: number[] = [];
  for (let i = 0; i < size; i++) {
    for (let j = i + 1; j < size; j++) if (distances[i * size + j] > 0) upper.push(distances[i * size + j]);
  }
  if (upper.length === 0) return 1;
  upper.sort((a, b) => a - b);
  const mid = upper.length >> 1;
  return upper.length % 2 === 1 ? upper[mid] : (upper[mid - 1] + upper[mid]) / 2;
}

const INV_PHI = (Math.sqrt(5) - 1) / 2;

function goldenSectionMin(
  f: (x: number) => number,
  lo: number,
  hi: number,
  tolerance = 1e-6,
): { x: number; value: number } {
  let a = lo;
  let b = hi;
  let c = b - INV_PHI * (b - a);
  let d = a + INV_PHI * (b - a);
  let fc = f(c);
  let fd = f(d);
  while (b - a > tolerance) {
    if (fc <= fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - INV_PHI * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + INV_PHI * (b - a);
      fd = f(d);
    }
  }
  return fc <= fd ? { x: c, value: fc } : { x: d, value: fd };
}
