import assert from 'node:assert/strict';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { fitMahalanobis, type MahalanobisModel } from '../../src/math/mahalanobis.js';
import { calibrate } from '../../src/detector/calibration.js';
import type { Evidence } from '../../src/detector/signals/signal.js';
import { SIGNALS } from '../../src/detector/signals/table.js';
import { OodError, type ErrorCode } from '../../src/errors.js';
import type { GraphSpec } from '../../src/neighbors/graph-engine.js';
import { HnswParamsSchema } from '../../src/neighbors/hnsw-params.js';
import { UsearchIndex } from '../../src/neighbors/usearch-index.js';
import { createRng, gaussian } from '../../src/math/random.js';
import { cacheKey, readCacheEntry, writeCacheEntry, type CacheEntry } from '../../src/detector/index-cache.js';
import { loadReferenceSet, referenceSetDir, type ReferenceSet } from '../../src/reference/load-reference-set.js';
import { canonicalManifest, ReferenceSetManifestSchema, type ReferenceSetManifest } from '../../src/reference/manifest.js';
import {
  assertConfigInvalid,
  assertOneFolderInside,
  byteDamageArb,
  damageBytes,
  editJson,
  hostileNameArb,
  jsonEditArb,
  jsonFileBytes,
  type ByteDamage,
  type JsonEdit,
} from '../fixtures/hostile.js';
import { makeTmp } from '../fixtures/tiny-model.js';
import { idxManifest, writeIdxSet } from './fixtures.js';

/**
 * The reference-set loader and the index cache against damaged files. A reference set either
 * refuses with an OodError that says where, or loads data that its fingerprint (the cache key)
 * tells apart from the intact set's; a cache entry is either reported as a miss, so it gets
 * rebuilt, or is exactly the entry that was written.
 */
const SEED = 20_240_501;

const REFERENCE_ERRORS: ErrorCode[] = ['CONFIG_INVALID', 'DATA_INVALID', 'DATA_SOURCE_MISSING'];

function assertReferenceError(err: unknown, setDir: string, name: string): void {
  assert.ok(err instanceof OodError, `not an OodError: ${err instanceof Error ? err.stack : String(err)}`);
  assert.ok(REFERENCE_ERRORS.includes(err.code), `${err.code}: ${err.message}`);
  // The manifest or a data file by path (data may live outside the set's folder), or the set by
  // name when a label is out of range.
  const namesPlace =
    err.message.includes(setDir) ||
    err.message.includes(`manifest "${name}"`) ||
    (err.code === 'DATA_SOURCE_MISSING' && / not found: \//.test(err.message));
  assert.ok(namesPlace, err.message);
}

/** Same rows, same labels, in the same parts. */
function assertSameData(a: ReferenceSet, b: ReferenceSet): void {
  for (const part of ['train', 'calibration', 'test'] as const) {
    assert.deepEqual(a[part].x, b[part].x, part);
    assert.deepEqual(a[part].labels, b[part].labels, part);
  }
}

/** What any loaded set must satisfy, whatever its manifest says. */
function assertConsistent(set: ReferenceSet): void {
  const features = set.manifest.input_shape.reduce((a, b) => a * b, 1);
  for (const part of ['train', 'calibration', 'test'] as const) {
    const { x, labels } = set[part];
    assert.equal(x.cols, features, part);
    assert.equal(labels.length, x.rows, part);
    assert.ok(labels.every((y) => y >= 0 && y < set.manifest.labels.length), part);
    assert.ok(x.data.every((v) => v >= 0 && v <= 1), part);
  }
  assert.equal(set.calibration.x.rows, set.manifest.split.calibration);
  if (typeof set.manifest.split.train === 'number') assert.equal(set.train.x.rows, set.manifest.split.train);
  if (typeof set.manifest.split.test === 'number') assert.equal(set.test.x.rows, set.manifest.split.test);
}

const IDX_FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];

type SetCorruption =
  | { file: 'manifest.json'; bytes: ByteDamage }
  | { file: 'manifest.json'; json: JsonEdit }
  | { file: 'manifest.json'; path: string[]; value: unknown }
  | { file: string; data: ByteDamage };

/** Manifest values that are well-formed JSON but wrong for the data, or for the schema. */
const SET_MISFITS: [string[], unknown[]][] = [
  [['name'], ['other', '../tiny', 'Tiny', '']],
  [['labels'], [['a', 'b'], ['a', 'b', 'c', 'd'], ['a', 'a', 'b'], ['a']]],
  [['input_shape'], [[5], [2, 2], [4, 1], [0], [], [1e300]]],
  [['source', 'kind'], ['npm', 'idx ', null]],
  [['source', 'dir'], ['/nonexistent', '..', 'data/../data', '', '/', 'data/train-images-idx3-ubyte.gz']],
  [['source', 'train_images'], ['../data/train-images-idx3-ubyte.gz', 't10k-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', '..', 'a\u0000b']],
  [['source', 'extra'], ['x']],
  [['split', 'calibration'], [0, 11, 12, 1e300, -1, 2.5]],
  [['split', 'train'], [1, 8, 9, 'all', 0]],
  [['split', 'test'], [1, 6, 7, 'rest']],
  [['split', 'seed'], [0, -1, 2 ** 32, 1.5]],
  [['split', 'method'], ['random']],
];

function setCorruptionArb(): fc.Arbitrary<SetCorruption> {
  return fc.oneof(
    fc.record({ file: fc.constant('manifest.json' as const), bytes: byteDamageArb }),
    fc.record({ file: fc.constant('manifest.json' as const), json: jsonEditArb }),
    fc
      .constantFrom(...SET_MISFITS)
      .chain(([path, values]) => fc.record({ file: fc.constant('manifest.json' as const), path: fc.constant(path), value: fc.constantFrom(...values) })),
    fc.record({ file: fc.constantFrom(...IDX_FILES), data: byteDamageArb }),
  );
}

function setWith(doc: unknown, path: string[], value: unknown): unknown {
  const copy = structuredClone(doc) as Record<string, unknown>;
  let parent = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string, unknown>;
  parent[path[path.length - 1]] = value;
  return copy;
}

describe('the reference-set loader with a damaged manifest or data', () => {
  const NAME = 'tiny';
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let pristine: Map<string, Buffer>;
  let intact: ReferenceSet;
  let runs = 0;

  /** Writes the files as `<tmp>/<run>/tiny/` (data under `data/`) and loads the set. */
  async function load(files: Map<string, Buffer>): Promise<{ setDir: string; set?: ReferenceSet; error?: unknown }> {
    const root = join(tmp.dir, `run-${runs++}`);
    const setDir = join(root, NAME);
    await mkdir(join(setDir, 'data'), { recursive: true });
    for (const [file, bytes] of files) await writeFile(join(setDir, file === 'manifest.json' ? file : join('data', file)), bytes);
    try {
      return { setDir, set: await loadReferenceSet(root, NAME) };
    } catch (error) {
      return { setDir, error };
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }

  before(async () => {
    tmp = await makeTmp('refset-hostile');
    const data = join(tmp.dir, 'pristine-data');
    await writeIdxSet(data, { rows: 12, testRows: 6, classes: 3 });
    pristine = new Map([['manifest.json', Buffer.from(JSON.stringify(idxManifest(NAME, 'data'), null, 2))]]);
    for (const file of IDX_FILES) pristine.set(file, await readFile(join(data, file)));
    const loaded = await load(pristine);
    assert.ok(loaded.set, `the intact set does not load: ${String(loaded.error)}`);
    intact = loaded.set;
  });
  after(() => tmp.cleanup());

  it('refuses damage by path with a reference-set error, or loads consistent data under a new fingerprint', async () => {
    const outcomes = { refused: 0, loaded: 0 };
    await fc.assert(
      fc.asyncProperty(setCorruptionArb(), async (c) => {
        const files = new Map(pristine);
        const original = pristine.get(c.file) as Buffer;
        if ('data' in c) files.set(c.file, damageBytes(original, c.data));
        else if ('bytes' in c) files.set(c.file, damageBytes(original, c.bytes));
        else if ('json' in c) files.set(c.file, jsonFileBytes(editJson(JSON.parse(original.toString('utf8')), c.json)));
        else files.set(c.file, jsonFileBytes(setWith(JSON.parse(original.toString('utf8')), c.path, c.value)));
        const { setDir, set, error } = await load(files);
        if (!set) {
          outcomes.refused++;
          assertReferenceError(error, setDir, NAME);
          return;
        }
        outcomes.loaded++;
        assertConsistent(set);
        // Under the intact set's cache key only if nothing the cache depends on changed.
        if (set.fingerprint === intact.fingerprint) {
          assert.equal(canonicalManifest(set.manifest), canonicalManifest(intact.manifest));
          assertSameData(set, intact);
        }
      }),
      { numRuns: 300, seed: SEED },
    );
    assert.ok(outcomes.refused > 0 && outcomes.loaded > 0, JSON.stringify(outcomes));
  });

  it('refuses damage to the shipped mnist manifest the same way', async () => {
    const mnist = await readFile(join('reference-sets', 'mnist', 'manifest.json'));
    const corruption = fc.oneof(
      byteDamageArb.map((d) => damageBytes(mnist, d)),
      jsonEditArb.map((e) => jsonFileBytes(editJson(JSON.parse(mnist.toString('utf8')), e))),
    );
    await fc.assert(
      fc.asyncProperty(corruption, async (bytes) => {
        const root = join(tmp.dir, `mnist-${runs++}`);
        const setDir = join(root, 'mnist');
        await mkdir(setDir, { recursive: true });
        await writeFile(join(setDir, 'manifest.json'), bytes);
        try {
          assertConsistent(await loadReferenceSet(root, 'mnist'));
        } catch (err) {
          if (err instanceof assert.AssertionError) throw err;
          assertReferenceError(err, setDir, 'mnist');
        } finally {
          await rm(root, { recursive: true, force: true });
        }
      }),
      // Each manifest that still loads reads all 10,000 digits (about 0.7 s), so few runs.
      { numRuns: 25, seed: SEED },
    );
  });
});

describe('reference-set names cannot leave the reference-sets folder', () => {
  const root = join('/srv', 'ood', 'reference-sets');

  it('referenceSetDir and loadReferenceSet refuse a name with CONFIG_INVALID or stay one folder inside', async () => {
    await fc.assert(
      fc.asyncProperty(hostileNameArb, async (name) => {
        let dir: string;
        try {
          dir = referenceSetDir(root, name);
        } catch (err) {
          assertConfigInvalid(err, name);
          await assert.rejects(loadReferenceSet(root, name), (e: unknown) => (assertConfigInvalid(e, name), true));
          return;
        }
        assertOneFolderInside(root, dir, name);
        // A valid name gets as far as its manifest, inside the root.
        await assert.rejects(loadReferenceSet(root, name), (e: unknown) => {
          assertConfigInvalid(e, name);
          assert.ok((e as Error).message.includes(join(root, name, 'manifest.json')), (e as Error).message);
          return true;
        });
      }),
      { numRuns: 500, seed: SEED },
    );
  });

  it("a manifest's name and source file names pass the schema only as names inside their folder", () => {
    const valid = idxManifest('tiny', '/usr/share/datasets/x');
    const fields = fc.constantFrom<string[]>(['name'], ['source', 'train_images'], ['source', 'test_labels']);
    fc.assert(
      fc.property(hostileNameArb, fields, (value, path) => {
        const parsed = ReferenceSetManifestSchema.safeParse(setWith(valid, path, value));
        if (!parsed.success) return;
        const manifest: ReferenceSetManifest = parsed.data;
        if (path[0] === 'name') assertOneFolderInside(root, referenceSetDir(root, manifest.name), value);
        else {
          // source.dir may be anywhere (Debian's datasets live under /usr/share), but a file
          // name cannot climb out of it.
          const dir = '/usr/share/datasets/x';
          assertOneFolderInside(dir, join(dir, value), value);
        }
      }),
      { numRuns: 1000, seed: SEED },
    );
  });
});

describe('the index cache with a damaged entry', () => {
  const POINTS = 40;
  // Equal widths on purpose: nothing but the file names tells the two layers' files apart.
  const DIMS = [4, 4];
  const CLASSES = 3;
  const LAYERS = ['hidden1', 'hidden2'];
  const hnsw = HnswParamsSchema.parse({ M: 8, efConstruction: 32, efSearch: 32, seed: 3 });
  const graph: GraphSpec = { engine: 'usearch', storage: 'auto', params: hnsw };
  const key = cacheKey({ modelFingerprint: 'm', dataFingerprint: 'd', layers: LAYERS, k: 5, hnsw, extra: {} });
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let entry: CacheEntry;
  let entryDir: string;
  let fileNames: string[];
  let runs = 0;
  const rng = createRng(5);
  const vectors = (rows: number, dim: number) => Float32Array.from({ length: rows * dim }, () => gaussian(rng));
  const queries = DIMS.map((dim) => vectors(8, dim));

  before(async () => {
    tmp = await makeTmp('cache-hostile');
    const referenceLabels = Int32Array.from({ length: POINTS }, (_, i) => (i * 7) % CLASSES);
    const indexes = DIMS.map((dim) => {
      const index = UsearchIndex.create(dim, 'f16', hnsw, { buildThreads: 1 });
      index.addAll(vectors(POINTS, dim), POINTS);
      return index;
    });
    const densityModels = DIMS.map((dim) => fitMahalanobis({ data: vectors(POINTS, dim), rows: POINTS, cols: dim }, referenceLabels, CLASSES));
    const labels = Int32Array.from({ length: 60 }, (_, i) => i % CLASSES);
    const evidence: Evidence[] = Array.from(labels, (y) => ({
      counts: DIMS.map(() => Int32Array.from({ length: CLASSES }, (_, c) => (c === y ? 4 : 1))),
      nearestDistances: Float64Array.from(DIMS, () => Math.exp(gaussian(rng))),
      meanDistances: Float64Array.from(DIMS, () => 2 * Math.exp(gaussian(rng))),
      measured: { density: Float64Array.from(DIMS, () => 4 * Math.exp(gaussian(rng))) },
    }));
    const calibration = calibrate({ evidence, predicted: labels, labels }, 5, CLASSES, 0.5, SIGNALS);
    entry = { indexes, graphs: DIMS.map(() => ({ engine: 'usearch' as const, storage: 'f16' as const })), referenceLabels, models: { density: densityModels }, calibration };
    entryDir = join(tmp.dir, 'written', key);
    await writeCacheEntry(entryDir, key, LAYERS, entry);
    fileNames = (await readdir(entryDir)).sort();
  });
  after(async () => {
    entry.indexes.forEach((index) => index.dispose());
    await tmp.cleanup();
  });

  /**
   * The loaded entry is the written one: same neighbours, labels, densities and calibration. An
   * entry read without its calibration (meta.json no longer lists it) is the form a shared
   * input-layer entry has; the detector counts it as a miss for a model and rebuilds.
   */
  function assertSameEntry(loaded: CacheEntry): void {
    assert.deepEqual(loaded.referenceLabels, entry.referenceLabels);
    if (loaded.calibration !== undefined) assert.deepEqual(loaded.calibration, entry.calibration);
    const originals = entry.models.density as MahalanobisModel[];
    (loaded.models.density as MahalanobisModel[]).forEach((m, l) => {
      const original = originals[l];
      assert.deepEqual([m.dim, m.classes, m.means, m.choleskyFactor, m.whitenedMeans], [
        original.dim,
        original.classes,
        original.means,
        original.choleskyFactor,
        original.whitenedMeans,
      ]);
    });
    loaded.indexes.forEach((index, l) => {
      assert.deepEqual(index.searchBatch(queries[l], 8, 5), entry.indexes[l].searchBatch(queries[l], 8, 5), `layer ${l}`);
    });
  }

  type CacheCorruption =
    | { file: number; bytes: ByteDamage }
    | { file: 'meta.json' | 'calibration.json'; json: JsonEdit }
    | { file: number; remove: true }
    | { file: number; copyFrom: number }
    /** A one-character slip in meta.json that points a layer at the other layer's file. */
    | { file: 'meta.json'; slip: 'layer' | 'density' };

  const cacheCorruptionArb: fc.Arbitrary<CacheCorruption> = fc.oneof(
    fc.record({ file: fc.nat(), bytes: byteDamageArb }),
    fc.record({ file: fc.constantFrom('meta.json' as const, 'calibration.json' as const), json: jsonEditArb }),
    fc.record({ file: fc.nat(), remove: fc.constant(true as const) }),
    fc.record({ file: fc.nat(), copyFrom: fc.nat() }),
    fc.record({ file: fc.constant('meta.json' as const), slip: fc.constantFrom('layer' as const, 'density' as const) }),
  );

  async function corrupt(dir: string, c: CacheCorruption): Promise<void> {
    const pick = (n: number) => fileNames[n % fileNames.length];
    if ('bytes' in c) {
      const file = pick(c.file);
      await writeFile(join(dir, file), damageBytes(await readFile(join(dir, file)), c.bytes));
    } else if ('json' in c) {
      const doc: unknown = JSON.parse(await readFile(join(dir, c.file), 'utf8'));
      await writeFile(join(dir, c.file), jsonFileBytes(editJson(doc, c.json)));
    } else if ('remove' in c) {
      await rm(join(dir, pick(c.file)));
    } else if ('copyFrom' in c) {
      if (pick(c.copyFrom) !== pick(c.file)) await cp(join(dir, pick(c.copyFrom)), join(dir, pick(c.file)));
    } else {
      const meta = await readFile(join(dir, 'meta.json'), 'utf8');
      await writeFile(join(dir, 'meta.json'), meta.replace(`"${c.slip}-0.`, `"${c.slip}-1.`));
    }
  }

  it('reports every damaged entry as a miss with a reason, or returns exactly the entry written', async () => {
    const outcomes = { miss: 0, hit: 0 };
    await fc.assert(
      fc.asyncProperty(cacheCorruptionArb, async (c) => {
        const dir = join(tmp.dir, `run-${runs++}`, key);
        await cp(entryDir, dir, { recursive: true });
        await corrupt(dir, c);
        try {
          const result = await readCacheEntry(dir, key, graph, LAYERS);
          if (result.entry) {
            outcomes.hit++;
            try {
              assertSameEntry(result.entry);
            } finally {
              result.entry.indexes.forEach((index) => index.dispose());
            }
            return;
          }
          outcomes.miss++;
          // Only an entry without meta.json is simply absent; any other miss says why, for the log.
          const absent = !(await readdir(dir)).includes('meta.json');
          assert.ok(absent ? result.miss === undefined : (result.miss?.reason.length ?? 0) > 0, JSON.stringify(result));
        } finally {
          await rm(join(dir, '..'), { recursive: true, force: true });
        }
      }),
      { numRuns: 300, seed: SEED },
    );
    assert.ok(outcomes.miss > outcomes.hit, JSON.stringify(outcomes));
  });
});
