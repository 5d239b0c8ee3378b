import type { Matrix } from '../math/matrix.js';
import { selectRows } from '../math/matrix.js';
import { permutation, createRng } from '../math/random.js';
import { loadManifest } from './manifest.js';
import { loadReferenceSet, loadSource, referenceSetDir } from './load-reference-set.js';
import { gaussianNoise, invert, rotate90, uniformNoise } from './synthetic.js';
import type { TextCodec } from '../model/text/text-codec.js';
import { OodError } from '../errors.js';
import { readTextList } from './sources/text-records.js';

/** An OOD set of texts in a file, for a text model. */
export interface TextSetFile {
  name: string;
  file: string;
}

/** What the sets need of the model: its tokenizer, and whether its inputs are codes (token ids) rather than measurements. */
export interface OodSetModel {
  text?: TextCodec;
  codes?: boolean;
}

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
  options: { limit: number; seed: number; include?: string[]; partner?: string; textSets?: TextSetFile[] },
  model: OodSetModel = {},
): Promise<OodSet[]> {
  const wanted = (name: string) => !options.include || options.include.includes(name);
  const { limit, seed } = options;
  const inSet = await loadReferenceSet(referenceSetsDir, inDistribution, { text: model.text });
  const test = firstRows(inSet.test.x, limit, seed);
  const sets: OodSet[] = [];
  for (const { name, file } of options.textSets ?? []) {
    if (!model.text) throw new OodError('CONFIG_INVALID', `text OOD set ${name} (${file}) needs a text model; this one takes no text`);
    const texts = await readTextList(file);
    if (texts.length === 0) throw new OodError('DATA_INVALID', `${file} holds no texts`);
    const x = { data: new Float32Array(texts.length * test.cols), rows: texts.length, cols: test.cols };
    texts.forEach((text, r) => model.text?.encodeInto(text, x.data, r, `${file} line ${r + 1}`));
    sets.push({ name, x: firstRows(x, limit, seed) });
  }
  // Noise, inversion and rotation make sense of measurements, not of token ids or codes.
  if (model.codes) return sets;
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
