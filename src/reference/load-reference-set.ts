import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { OodError, isOodError } from '../errors.js';
import {
  assertReferenceSetName,
  canonicalManifest,
  loadManifest,
  MANIFEST_FILE,
  type ReferenceSetManifest,
} from './manifest.js';
import type { LabeledData, SourceData, SourcePool } from './sources/labeled-data.js';
import { readSource } from './sources/registry.js';
import type { TextCodec } from '../model/text/text-codec.js';
import { splitIndices } from './split.js';

export interface ReferenceSet {
  manifest: ReferenceSetManifest;
  /** Indexed by the detector and used to train the model. */
  train: LabeledData;
  /** Held out from training and indexing; its nonconformity scores calibrate the p-values. */
  calibration: LabeledData;
  test: LabeledData;
  /**
   * sha256 hex of the canonical manifest and of every source byte read: the cache key for
   * anything built from this set, so editing the manifest or replacing a data file invalidates it.
   */
  fingerprint: string;
  /** sha256 hex over the data files alone: what a manifest's `data_sha256` records. */
  dataSha256: string;
}

/** What a source may need of the model the set belongs to: a text model's tokenizer. */
export interface ModelContext {
  text?: TextCodec;
}

/** `<rootDir>/<name>`, after checking that the name cannot point outside rootDir. */
export function referenceSetDir(rootDir: string, name: string): string {
  assertReferenceSetName(name);
  return join(rootDir, name);
}

/**
 * Loads `<rootDir>/<name>/manifest.json` and the data it points at, split as the manifest says.
 * rootDir is the folder that holds the reference sets (the project's reference-sets/).
 */
export async function loadReferenceSet(rootDir: string, name: string, model: ModelContext = {}): Promise<ReferenceSet> {
  const dir = referenceSetDir(rootDir, name);
  const manifest = await loadManifest(dir);
  const manifestFile = join(dir, MANIFEST_FILE);
  if (manifest.name !== name) {
    throw new OodError('CONFIG_INVALID', `${manifestFile} names the set "${manifest.name}" but lives in folder "${name}"`);
  }
  const source = await loadSource(manifest, dir, model);
  const indices = withFile(manifestFile, () =>
    splitIndices(manifest.split, source.pool.size, source.testPool === null ? null : source.testPool.size),
  );
  return {
    manifest,
    train: source.pool.take(indices.train),
    calibration: source.pool.take(indices.calibration),
    test: (source.testPool ?? source.pool).take(indices.test),
    fingerprint: fingerprint(manifest, source),
    dataSha256: source.digest,
  };
}

/**
 * The source's rows before any split, checked against the manifest's input shape and labels.
 * Evaluation uses it for whole OOD sets, such as every MNIST digit against a Fashion-MNIST model.
 * A relative `source.dir` is resolved against manifestDir, the folder holding the manifest.
 */
export async function loadSource(manifest: ReferenceSetManifest, manifestDir: string, model: ModelContext = {}): Promise<SourceData> {
  const source = await readSource(manifest.source, {
    manifestDir,
    labels: manifest.labels,
    inputShape: manifest.input_shape,
    ...(model.text ? { text: model.text } : {}),
  });
  const manifestFile = join(manifestDir, MANIFEST_FILE);
  if (manifest.data_sha256 !== undefined && manifest.data_sha256 !== source.digest) {
    throw new OodError(
      'DATA_INVALID',
      `${manifestFile}: the data files changed since they were added (sha256 ${source.digest.slice(0, 12)}…, ` +
        `data_sha256 says ${manifest.data_sha256.slice(0, 12)}…): restore them, or add the model again`,
    );
  }
  const features = manifest.input_shape.reduce((a, b) => a * b, 1);
  for (const [role, pool] of [['pool', source.pool], ['test pool', source.testPool]] as const) {
    if (pool === null) continue;
    if (pool.cols !== features) {
      throw new OodError(
        'CONFIG_INVALID',
        `${manifestFile}: input_shape [${manifest.input_shape.join(', ')}] has ${features} features, ` +
          `but the ${manifest.source.kind} source's ${role} has ${pool.cols} per row`,
      );
    }
    checkLabels(pool, manifest, `the ${manifest.source.kind} source's ${role}`);
  }
  return source;
}

function checkLabels(pool: SourcePool, manifest: ReferenceSetManifest, what: string): void {
  const classes = manifest.labels.length;
  const bad = pool.labels.findIndex((label) => label < 0 || label >= classes);
  if (bad >= 0) {
    throw new OodError(
      'DATA_INVALID',
      `Row ${bad} of ${what} has label ${pool.labels[bad]}, but manifest "${manifest.name}" lists ${classes} classes`,
    );
  }
}

function fingerprint(manifest: ReferenceSetManifest, source: SourceData): string {
  return createHash('sha256').update(canonicalManifest(manifest)).update('\0').update(source.digest).digest('hex');
}

function withFile<T>(file: string, run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (isOodError(err)) throw new OodError(err.code, `${file}: ${err.message}`, { cause: err });
    throw err;
  }
}
