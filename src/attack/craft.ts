import { selectRows, type Matrix } from '../math/matrix.js';
import { createRng, permutation } from '../math/random.js';
import { loadStoredModel, readModelManifest } from '../model/model-store.js';
import { loadReferenceSet, type ReferenceSet } from '../reference/load-reference-set.js';
import type { AttackSetOrigin } from './attack-set.js';
import { assertDifferentiable, Differentiable } from './differentiable.js';
import { runAttack, type AttackResult, type AttackSpec } from './gradient-attack.js';

/** The range the training inputs span: adversarial inputs stay inside it, as real inputs would. */
export function inputDomain(x: Matrix): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x.data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** Up to `limit` test rows, in a seeded order, as indices into the test part. */
export function sampleRows(rows: number, limit: number, seed: number): Int32Array {
  return permutation(rows, createRng(seed)).subarray(0, Math.min(limit, rows));
}

export interface Crafted {
  result: AttackResult;
  /** The test part the set's source indices point into. */
  test: Matrix;
  origin: Omit<AttackSetOrigin, 'command'>;
}

/** A model opened for attacks, with the reference set it was trained on. */
export interface AttackTarget {
  net: Differentiable;
  refset: ReferenceSet;
  model: string;
  fingerprint: string;
  dispose(): void;
}

export async function openAttackTarget(modelsDir: string, referenceSetsDir: string, model: string): Promise<AttackTarget> {
  assertDifferentiable(await readModelManifest(modelsDir, model), `${modelsDir}/${model}`);
  const stored = await loadStoredModel(modelsDir, model);
  try {
    const refset = await loadReferenceSet(referenceSetsDir, stored.manifest.reference_set);
    return { net: new Differentiable(stored.model, stored.manifest), refset, model, fingerprint: stored.fingerprint, dispose: () => stored.model.dispose() };
  } catch (err) {
    stored.model.dispose();
    throw err;
  }
}

/** Attacks up to `limit` of the test part's rows (sampled with `seed`). */
export function craft(target: AttackTarget, spec: AttackSpec, options: { limit: number; seed: number }): Crafted {
  const { refset, net } = target;
  const rows = sampleRows(refset.test.x.rows, options.limit, options.seed);
  const clip = inputDomain(refset.train.x);
  const picked = selectRows(refset.test.x, rows);
  const labels = Int32Array.from(rows, (r) => refset.test.labels[r]);
  const result = runAttack(net, picked, labels, spec, { clip, seed: options.seed, reference: refset.train });
  // Source indices point into the whole test part, not into the sample.
  return {
    result: { ...result, source: Int32Array.from(result.source, (i) => rows[i]) },
    test: refset.test.x,
    origin: {
      model: target.model,
      modelFingerprint: target.fingerprint,
      referenceSet: refset.manifest.name,
      referenceFingerprint: refset.fingerprint,
      clip,
      seed: options.seed,
    },
  };
}
