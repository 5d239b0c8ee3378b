/**
 * Seeded out-of-distribution inputs for flat square images (28x28 = 784 values in [0,1], the
 * layout of both MNIST sources). Every generator returns a new matrix and never edits its input.
 */
import { OodError } from '../errors.js';
import type { Matrix } from '../math/matrix.js';
import { createRng, gaussian } from '../math/random.js';

export const IMAGE_SIDE = 28;
export const IMAGE_PIXELS = IMAGE_SIDE * IMAGE_SIDE;

export interface GaussianNoiseOptions {
  mean?: number;
  /** Standard deviation before clipping; 0.25 keeps about 95% of draws inside [0,1]. */
  sd?: number;
  /** Values per row; defaults to one 28x28 image. */
  cols?: number;
}

/** Each pixel uniform in [0,1). */
export function uniformNoise(n: number, seed: number, cols: number = IMAGE_PIXELS): Matrix {
  const rng = createRng(seed);
  const data = new Float32Array(n * cols);
  for (let i = 0; i < data.length; i++) data[i] = rng();
  return { data, rows: n, cols };
}

/** Each pixel normal(mean, sd), clipped to [0,1] so it stays in the range the models were fed. */
export function gaussianNoise(n: number, seed: number, options: GaussianNoiseOptions = {}): Matrix {
  const { mean = 0.5, sd = 0.25, cols = IMAGE_PIXELS } = options;
  const rng = createRng(seed);
  const data = new Float32Array(n * cols);
  for (let i = 0; i < data.length; i++) data[i] = clip01(mean + sd * gaussian(rng));
  return { data, rows: n, cols };
}

/** 1 - x: a light background with dark strokes, the opposite of MNIST's convention. */
export function invert(m: Matrix): Matrix {
  const data = new Float32Array(m.data.length);
  for (let i = 0; i < data.length; i++) data[i] = 1 - m.data[i];
  return { data, rows: m.rows, cols: m.cols };
}

/** Each image turned 90 degrees clockwise. */
export function rotate90(m: Matrix): Matrix {
  const side = imageSide(m, 'rotate90');
  const data = new Float32Array(m.data.length);
  for (let img = 0; img < m.rows; img++) {
    const base = img * m.cols;
    for (let r = 0; r < side; r++) {
      for (let c = 0; c < side; c++) {
        // Clockwise: the left column, read bottom to top, becomes the top row.
        data[base + r * side + c] = m.data[base + (side - 1 - c) * side + r];
      }
    }
  }
  return { data, rows: m.rows, cols: m.cols };
}

/**
 * Each image turned `degrees` counter-clockwise about its centre, read by bilinear interpolation;
 * what comes from outside the frame is 0, the background of both MNIST sources.
 */
export function rotate(m: Matrix, degrees: number): Matrix {
  const side = imageSide(m, 'rotate');
  const angle = (degrees * Math.PI) / 180;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const centre = (side - 1) / 2;
  const data = new Float32Array(m.data.length);
  const at = (base: number, r: number, c: number) => (r >= 0 && r < side && c >= 0 && c < side ? m.data[base + r * side + c] : 0);
  for (let img = 0; img < m.rows; img++) {
    const base = img * m.cols;
    for (let r = 0; r < side; r++) {
      for (let c = 0; c < side; c++) {
        // Where this output pixel comes from: the inverse rotation of its place (rows grow downwards).
        const x = c - centre;
        const y = centre - r;
        const sc = centre + cos * x + sin * y;
        const sr = centre - (-sin * x + cos * y);
        const r0 = Math.floor(sr);
        const c0 = Math.floor(sc);
        const fr = sr - r0;
        const fc = sc - c0;
        data[base + r * side + c] =
          (1 - fr) * ((1 - fc) * at(base, r0, c0) + fc * at(base, r0, c0 + 1)) + fr * ((1 - fc) * at(base, r0 + 1, c0) + fc * at(base, r0 + 1, c0 + 1));
      }
    }
  }
  return { data, rows: m.rows, cols: m.cols };
}

/**
 * Each image averaged over a (2 * radius + 1)^2 box, clamped at the borders so the edge pixels
 * are not darkened by an implicit zero padding.
 */
export function boxBlur(m: Matrix, radius = 1): Matrix {
  const side = imageSide(m, 'boxBlur');
  if (!Number.isInteger(radius) || radius < 0) {
    throw new OodError('CONFIG_INVALID', `boxBlur radius must be a non-negative integer, got ${radius}`);
  }
  const data = new Float32Array(m.data.length);
  for (let img = 0; img < m.rows; img++) {
    const base = img * m.cols;
    for (let r = 0; r < side; r++) {
      for (let c = 0; c < side; c++) {
        let sum = 0;
        let count = 0;
        for (let rr = Math.max(0, r - radius); rr <= Math.min(side - 1, r + radius); rr++) {
          for (let cc = Math.max(0, c - radius); cc <= Math.min(side - 1, c + radius); cc++) {
            sum += m.data[base + rr * side + cc];
            count++;
          }
        }
        data[base + r * side + c] = sum / count;
      }
    }
  }
  return { data, rows: m.rows, cols: m.cols };
}

function imageSide(m: Matrix, op: string): number {
  const side = Math.round(Math.sqrt(m.cols));
  if (side * side !== m.cols) {
    throw new OodError('DATA_INVALID', `${op} needs square images, but rows have ${m.cols} values`);
  }
  return side;
}

function clip01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}
