import { createRng, gaussian } from '../../src/math/random.js';

/** rows x cols standard normal values, row-major, reproducible from `seed`. */
export function gaussianRows(rows: number, cols: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: rows * cols }, () => gaussian(rng));
}
