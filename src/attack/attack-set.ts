import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../atomic-write.js';
import { OodError } from '../errors.js';
import { selectRows, type Matrix } from '../math/matrix.js';
import { npyBytes } from '../reference/sources/npy-write.js';
import { npyRows, parseNpy } from '../reference/sources/npy.js';
import { AttackSpecSchema, type AttackResult } from './gradient-attack.js';

/**
 * An attack set on disk: `meta.json` says what was attacked, how, and with what success;
 * `delta.npy` holds only what the attack changed, one row per attacked input (adversarial minus
 * original). The originals are rows of a reference set's test part, named by index, so a set
 * is small and is read back against the very data it was made from.
 */
export const ATTACK_SET_FORMAT = 1;

const Int = z.number().int().nonnegative();

export const AttackSetMetaSchema = z.object({
  format: z.literal(ATTACK_SET_FORMAT),
  model: z.string(),
  model_fingerprint: z.string(),
  reference_set: z.string(),
  reference_fingerprint: z.string(),
  spec: AttackSpecSchema,
  /** The input domain every adversarial input was kept inside. */
  clip: z.tuple([z.number(), z.number()]),
  seed: z.number().int(),
  /** Test rows attacked: those the model classified correctly. */
  source: z.array(Int),
  labels: z.array(Int),
  /** The model's class for each adversarial input. */
  predicted: z.array(Int),
  success_rate: z.number().min(0).max(1),
  delta_sha256: z.string().regex(/^[0-9a-f]{64}$/),
  command: z.string(),
  created: z.string(),
});
export type AttackSetMeta = z.infer<typeof AttackSetMetaSchema>;

export interface AttackSetOrigin {
  model: string;
  modelFingerprint: string;
  referenceSet: string;
  referenceFingerprint: string;
  clip: [number, number];
  seed: number;
  command: string;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Writes the set: delta.npy first, then meta.json with its checksum, each atomically. */
export async function writeAttackSet(dir: string, result: AttackResult, original: Matrix, origin: AttackSetOrigin): Promise<AttackSetMeta> {
  const rows = result.source.length;
  const delta = new Float32Array(result.adversarial.length);
  const from = selectRows(original, result.source).data;
  for (let i = 0; i < delta.length; i++) delta[i] = result.adversarial[i] - from[i];
  const bytes = npyBytes('<f4', [rows, original.cols], delta);
  await writeFileAtomic(join(dir, 'delta.npy'), bytes);
  const meta: AttackSetMeta = {
    format: ATTACK_SET_FORMAT,
    model: origin.model,
    model_fingerprint: origin.modelFingerprint,
    reference_set: origin.referenceSet,
    reference_fingerprint: origin.referenceFingerprint,
    spec: result.spec,
    clip: origin.clip,
    seed: origin.seed,
    source: Array.from(result.source),
    labels: Array.from(result.labels),
    predicted: Array.from(result.predicted),
    success_rate: result.successRate,
    delta_sha256: sha256(bytes),
    command: origin.command,
    created: new Date().toISOString(),
  };
  await writeFileAtomic(join(dir, 'meta.json'), `${JSON.stringify(meta, null, 1)}\n`);
  return meta;
}

/**
 * The adversarial inputs of a set, rebuilt from the test part it was made from. Refused, with
 * the reason, when the files do not match each other or the test part is not the one attacked.
 */
export async function readAttackSet(
  dir: string,
  test: Matrix,
  referenceFingerprint: string,
  modelFingerprint?: string,
): Promise<{ meta: AttackSetMeta; x: Matrix }> {
  const invalid = (why: string) => new OodError('CONFIG_INVALID', `attack set ${dir}: ${why}`);
  let meta: AttackSetMeta;
  try {
    meta = AttackSetMetaSchema.parse(JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')));
  } catch (err) {
    throw invalid(`meta.json is unreadable: ${(err as Error).message}`);
  }
  if (meta.reference_fingerprint !== referenceFingerprint) throw invalid(`it was made from another version of reference set ${meta.reference_set}`);
  if (modelFingerprint && meta.model_fingerprint !== modelFingerprint) throw invalid(`it was made against another version of model ${meta.model}`);
  const n = meta.source.length;
  if (meta.labels.length !== n || meta.predicted.length !== n) throw invalid(`it lists ${n} rows, ${meta.labels.length} labels and ${meta.predicted.length} predictions`);
  if (new Set(meta.source).size !== n) throw invalid('it names a test row twice');
  const changed = meta.predicted.filter((p, i) => p !== meta.labels[i]).length;
  if (n > 0 && Math.abs(changed / n - meta.success_rate) > 1e-9) throw invalid(`its success rate ${meta.success_rate} is not the ${changed} of ${n} predictions it lists`);
  const bytes = await readFile(join(dir, 'delta.npy')).catch((err: Error) => {
    throw invalid(`delta.npy is unreadable: ${err.message}`);
  });
  if (sha256(bytes) !== meta.delta_sha256) throw invalid('delta.npy does not match the checksum in meta.json');
  const delta = npyRows(parseNpy(bytes, 'delta.npy'), 'delta.npy');
  if (delta.rows !== meta.source.length || delta.cols !== test.cols) {
    throw invalid(`delta.npy is ${delta.rows} x ${delta.cols}, expected ${meta.source.length} x ${test.cols}`);
  }
  if (meta.source.some((i) => i >= test.rows)) throw invalid(`it names test rows beyond the ${test.rows} the reference set has`);
  const x = selectRows(test, meta.source);
  for (let i = 0; i < x.data.length; i++) x.data[i] += delta.data[i];
  const beyond = outsideBudget(delta, meta) ?? outsideDomain(x, meta.clip);
  if (beyond) throw invalid(beyond);
  return { meta, x };
}

/** float32 rounding of an input plus a difference, which an honest set stays within. */
const TOLERANCE = 1e-5;

function outsideBudget(delta: Matrix, meta: AttackSetMeta): string | undefined {
  const { eps, norm } = meta.spec;
  for (let r = 0; r < delta.rows; r++) {
    let size = 0;
    for (let j = r * delta.cols; j < (r + 1) * delta.cols; j++) {
      const d = Math.abs(delta.data[j]);
      size = norm === 'linf' ? Math.max(size, d) : size + d * d;
    }
    if (norm === 'l2') size = Math.sqrt(size);
    if (size > eps + TOLERANCE) return `row ${r} of delta.npy is ${size} in ${norm}, beyond the budget ${eps}`;
  }
  return undefined;
}

function outsideDomain(x: Matrix, [lo, hi]: [number, number]): string | undefined {
  for (let i = 0; i < x.data.length; i++) {
    if (x.data[i] < lo - TOLERANCE || x.data[i] > hi + TOLERANCE) return `adversarial row ${Math.floor(i / x.cols)} leaves the input domain [${lo}, ${hi}]`;
  }
  return undefined;
}
