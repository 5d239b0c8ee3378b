import type { Matrix } from '../math/matrix.js';
import { selectRows } from '../math/matrix.js';
import { permutation, createRng } from '../math/random.js';
import { loadManifest } from './manifest.js';
import { loadReferenceSet, loadSource, referenceSetDir } from './load-reference-set.js';
import { gaussianNoise, invert, rotate90, uniformNoise } from './synthetic.js';

export interface OodSet {
  name: string;
  x: Matrix;
}

/**
 * The other image set each shipped reference set is evaluated against: MNIST digits and
 * Fashion-MNIST items are the same shape, so each is the natural near-OOD set of the other.
 */
export const PARTNER_SETS: Record<string, string> = { mnist: 'fashion-mnist', 'fashion-mnist': 'mnist' };

function firstRows(m: Matrix, limit: number, seed: number): Matrix {
  if (m.rows <= limit) return m;
  return selectRows(m, permutation(m.rows, createRng(seed)).subarray(0, limit));
}

/**
 * The OOD sets for a model trained on `inDistribution`: the partner image set (its test part,
 * or its whole source when that has no separate test file), uniform and Gaussian noise, and
 * inverted and rotated in-distribution test images. Each is capped at `limit` rows, sampled
 * with `seed`, so evaluations stay deterministic and quick.
 */
export async function loadOodSets(
  referenceSetsDir: string,
  inDistribution: string,
  options: { limit: number; seed: number; include?: string[]; partner?: string },
): Promise<OodSet[]> {
  const wanted = (name: string) => !options.include || options.include.includes(name);
  const { limit, seed } = options;
  const inSet = await loadReferenceSet(referenceSetsDir, inDistribution);
  const test = firstRows(inSet.test.x, limit, seed);
  const sets: OodSet[] = [];
  // "none": no near-OOD set, as for a table that has no sibling data set.
  const partner = options.partner === 'none' ? undefined : (options.partner ?? PARTNER_SETS[inDistribution]);
  if (partner && wanted(partner)) {
    const dir = referenceSetDir(referenceSetsDir, partner);
    const source = await loadSource(await loadManifest(dir), dir);
    const pool = source.testPool ?? source.pool;
    sets.push({ name: partner, x: firstRows(pool.take().x, limit, seed) });
  }
  if (wanted('uniform-noise')) sets.push({ name: 'uniform-noise', x: uniformNoise(Math.min(limit, 1000), seed, test.cols) });
  if (wanted('gaussian-noise')) sets.push({ name: 'gaussian-noise', x: gaussianNoise(Math.min(limit, 1000), seed, { cols: test.cols }) });
  if (wanted('inverted')) sets.push({ name: `inverted-${inDistribution}`, x: invert(test) });
  // Turning needs a square single-channel image; other inputs (tables, colour images) skip it.
  const square = Number.isInteger(Math.sqrt(test.cols));
  if (wanted('rotated') && square) sets.push({ name: `rotated-${inDistribution}`, x: rotate90(test) });
  return sets;
}
