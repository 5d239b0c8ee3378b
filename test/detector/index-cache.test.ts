import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fitMahalanobis, mahalanobisOutlierScores, type MahalanobisModel } from '../../src/math/mahalanobis.js';
import { calibrate, type CalibrationState } from '../../src/detector/calibration.js';
import { distanceSignal } from '../../src/detector/signals/distance.js';
import { labelSignal } from '../../src/detector/signals/label.js';
import type { Evidence } from '../../src/detector/signals/signal.js';
import { SIGNALS } from '../../src/detector/signals/table.js';
import type { GraphSpec } from '../../src/neighbors/graph-engine.js';
import { HnswParamsSchema } from '../../src/neighbors/hnsw-params.js';
import { UsearchIndex } from '../../src/neighbors/usearch-index.js';
import { createRng, gaussian } from '../../src/math/random.js';
import {
  cacheKey,
  pruneOtherEntries,
  readCacheEntry,
  writeCacheEntry,
  type CacheEntry,
  type CacheKeyParts,
} from '../../src/detector/index-cache.js';
import { makeTmp } from '../fixtures/tiny-model.js';

const POINTS = 50;
const DIMS = [8, 3];
const K = 5;
const CLASSES = 3;
const hnsw = HnswParamsSchema.parse({ M: 8, efConstruction: 64, efSearch: 64, seed: 3 });
const graph: GraphSpec = { engine: 'usearch', storage: 'f32', params: hnsw };

function vectors(rows: number, dim: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: rows * dim }, () => gaussian(rng));
}

/** meta.json as these tests edit it: loosely, since some edits break its schema on purpose. */
interface MetaJson {
  key: string;
  format: number;
  files: Record<string, unknown>;
  layers: { models: Record<string, { file: string; meta: Record<string, unknown> }> }[];
}

/** The bytes behind a float64 array, for byte-for-byte comparisons. */
const bytesOf = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** The density file's documented layout: means, then the Cholesky factor, then whitened means. */
const densityFileBytes = (m: MahalanobisModel) =>
  Buffer.concat([bytesOf(m.means), bytesOf(m.choleskyFactor), bytesOf(m.whitenedMeans)]);

/** 8 bytes per float64: classes x dim means, dim x dim factor, classes x dim whitened means. */
const densitySize = (dim: number, classes = CLASSES) => 8 * (2 * classes * dim + dim * dim);

/** The density signal's reference models of an entry, one per layer. */
const densityModelsOf = (e: CacheEntry) => e.models.density as MahalanobisModel[];

function syntheticCalibration(): CalibrationState {
  const rng = createRng(9);
  const evidence: Evidence[] = [];
  const labels = new Int32Array(60);
  for (let i = 0; i < 60; i++) {
    labels[i] = i % CLASSES;
    const counts = DIMS.map(() => {
      const c = new Int32Array(CLASSES);
      for (let j = 0; j < K; j++) c[rng() < 0.7 ? labels[i] : Math.floor(rng() * CLASSES)]++;
      return c;
    });
    const nearest = Float64Array.from(DIMS, () => Math.exp(gaussian(rng)));
    const densities = Float64Array.from(DIMS, (dim) => dim * Math.exp(0.5 * gaussian(rng)));
    evidence.push({ counts, nearestDistances: nearest, meanDistances: nearest.map((d) => d * 2), measured: { density: densities } });
  }
  return calibrate({ evidence, predicted: labels, labels }, K, CLASSES, 0.5, SIGNALS);
}

const baseParts: CacheKeyParts = {
  modelFingerprint: 'a'.repeat(64),
  dataFingerprint: 'b'.repeat(64),
  layers: ['hidden1', 'hidden2'],
  k: K,
  hnsw,
  extra: { signals: ['label', 'distance', 'density'], labelWeight: 0.5 },
};

describe('cacheKey', () => {
  it('is a deterministic 32-hex-digit key', () => {
    const key = cacheKey(baseParts);
    assert.match(key, /^[0-9a-f]{32}$/);
    assert.equal(cacheKey(structuredClone(baseParts)), key);
  });

  it('changes with every part', () => {
    const variants: CacheKeyParts[] = [
      { ...baseParts, modelFingerprint: 'c'.repeat(64) },
      { ...baseParts, dataFingerprint: 'c'.repeat(64) },
      { ...baseParts, layers: ['hidden1'] },
      { ...baseParts, layers: ['hidden2', 'hidden1'] },
      { ...baseParts, k: K + 1 },
      { ...baseParts, hnsw: { ...hnsw, M: 16 } },
      { ...baseParts, hnsw: { ...hnsw, efConstruction: 65 } },
      { ...baseParts, hnsw: { ...hnsw, efSearch: 65 } },
      { ...baseParts, hnsw: { ...hnsw, seed: 4 } },
      { ...baseParts, extra: { ...baseParts.extra, labelWeight: 0.4 } },
      { ...baseParts, extra: {} },
    ];
    const keys = new Set([cacheKey(baseParts), ...variants.map(cacheKey)]);
    assert.equal(keys.size, variants.length + 1);
  });
});

describe('cache entries', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let entry: CacheEntry;
  let cacheDir: string;
  let entryDir: string;
  const key = cacheKey(baseParts);
  const queries = DIMS.map((dim, l) => vectors(10, dim, 100 + l));

  before(async () => {
    tmp = await makeTmp('index-cache');
    const indexes = DIMS.map((dim, l) => {
      const index = UsearchIndex.create(dim, 'f32', hnsw, { buildThreads: 1 });
      index.addAll(vectors(POINTS, dim, 10 + l), POINTS);
      return index;
    });
    const referenceLabels = Int32Array.from({ length: POINTS }, (_, i) => (i * 7) % CLASSES);
    // Raw activations for the density fits; the second layer with its own ridge, which the
    // cache must carry as well.
    const densityModels = DIMS.map((dim, l) =>
      fitMahalanobis({ data: vectors(POINTS, dim, 20 + l), rows: POINTS, cols: dim }, referenceLabels, CLASSES, {
        ridge: l === 0 ? undefined : 1e-3,
      }),
    );
    entry = { indexes, graphs: DIMS.map(() => ({ engine: 'usearch' as const, storage: 'f32' as const })), referenceLabels, models: { density: densityModels }, calibration: syntheticCalibration() };
    cacheDir = join(tmp.dir, 'cache', 'tiny');
    entryDir = join(cacheDir, key);
    await writeCacheEntry(entryDir, key, ['hidden1', 'hidden2'], entry);
  });
  after(async () => {
    entry.indexes.forEach((i) => i.dispose());
    await tmp.cleanup();
  });

  /** A fresh copy of the written entry, to break one way. */
  async function copyOfEntry(name: string): Promise<string> {
    const dir = join(tmp.dir, 'broken', name, key);
    await cp(entryDir, dir, { recursive: true });
    return dir;
  }

  async function expectMiss(dir: string, pattern: RegExp, spec: GraphSpec | GraphSpec[] = graph): Promise<void> {
    const result = await readCacheEntry(dir, key, spec);
    assert.equal(result.entry, undefined);
    assert.ok(result.miss, 'expected a miss reason');
    assert.match(result.miss.reason, pattern);
  }

  /** Edits an entry's meta.json in place (without re-checksumming anything). */
  async function editMeta(dir: string, edit: (meta: MetaJson) => void): Promise<void> {
    const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8'));
    edit(meta);
    await writeFile(join(dir, 'meta.json'), JSON.stringify(meta));
  }

  /** Replace one file of an entry and re-checksum it in meta.json, so only later checks can object. */
  async function replaceConsistently(dir: string, file: string, data: Uint8Array): Promise<void> {
    const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8'));
    await writeFile(join(dir, file), data);
    meta.files[file] = { sha256: createHash('sha256').update(data).digest('hex'), bytes: data.byteLength };
    await writeFile(join(dir, 'meta.json'), JSON.stringify(meta));
  }

  it('writes the entry whole, with no temp folder left behind', async () => {
    assert.deepEqual((await readdir(cacheDir)).sort(), [key]);
    assert.deepEqual((await readdir(entryDir)).sort(), [
      'calibration.json',
      'density-0.bin',
      'density-1.bin',
      'labels.bin',
      'layer-0.usearch',
      'layer-1.usearch',
      'meta.json',
    ]);
    const meta = JSON.parse(await readFile(join(entryDir, 'meta.json'), 'utf8'));
    assert.equal(meta.format, 3);
    assert.equal(meta.key, key);
    assert.deepEqual(meta.layers, [
      { name: 'hidden1', dim: 8, file: 'layer-0.usearch', graph: { engine: 'usearch', storage: 'f32' }, models: { density: { file: 'density-0.bin', meta: { classes: CLASSES, ridge: densityModelsOf(entry)[0].ridge } } } },
      { name: 'hidden2', dim: 3, file: 'layer-1.usearch', graph: { engine: 'usearch', storage: 'f32' }, models: { density: { file: 'density-1.bin', meta: { classes: CLASSES, ridge: densityModelsOf(entry)[1].ridge } } } },
    ]);
    assert.deepEqual(Object.keys(meta.files).sort(), [
      'calibration.json',
      'density-0.bin',
      'density-1.bin',
      'labels.bin',
      'layer-0.usearch',
      'layer-1.usearch',
    ]);
    assert.equal(meta.files['labels.bin'].bytes, POINTS * 4);
    // 8 * (2 * 3 * 8 + 8 * 8) = 896 and 8 * (2 * 3 * 3 + 3 * 3) = 216 bytes.
    assert.equal(meta.files['density-0.bin'].bytes, 896);
    assert.equal(meta.files['density-1.bin'].bytes, 216);
    for (const [l, model] of densityModelsOf(entry).entries()) {
      const onDisk = await readFile(join(entryDir, `density-${l}.bin`));
      assert.equal(onDisk.byteLength, densitySize(DIMS[l]));
      assert.ok(onDisk.equals(densityFileBytes(model)), `density-${l}.bin is not means | factor | whitened means`);
      assert.equal(meta.files[`density-${l}.bin`].sha256, createHash('sha256').update(onDisk).digest('hex'));
    }
  });

  it('reads back indexes with the same neighbours, the labels, the density models and the calibration', async () => {
    const result = await readCacheEntry(entryDir, key, graph);
    assert.equal(result.miss, undefined);
    assert.ok(result.entry);
    const loaded = result.entry;
    try {
      assert.deepEqual(loaded.referenceLabels, entry.referenceLabels);
      assert.deepEqual(loaded.calibration, entry.calibration);
      assert.equal(loaded.indexes.length, 2);
      loaded.indexes.forEach((index, l) => {
        assert.equal(index.dim, DIMS[l]);
        assert.equal(index.size, POINTS);
        const expected = entry.indexes[l].searchBatch(queries[l], 10, K);
        const actual = index.searchBatch(queries[l], 10, K);
        assert.equal(actual.length, 10);
        actual.forEach((found, r) => {
          assert.equal(found.ids.length, K);
          assert.deepEqual(found.ids, expected[r].ids);
          assert.deepEqual(found.distances, expected[r].distances);
        });
      });
      assert.deepEqual(Object.keys(loaded.models), ['density']);
      assert.equal(densityModelsOf(loaded).length, 2);
      densityModelsOf(loaded).forEach((model, l) => {
        const original = densityModelsOf(entry)[l];
        assert.equal(model.dim, DIMS[l]);
        assert.equal(model.dim, original.dim);
        assert.equal(model.classes, CLASSES);
        assert.equal(model.ridge, original.ridge);
        // Byte for byte, not just close: the cached density must score exactly as the fresh one.
        assert.ok(bytesOf(model.means).equals(bytesOf(original.means)), `layer ${l} means`);
        assert.ok(bytesOf(model.choleskyFactor).equals(bytesOf(original.choleskyFactor)), `layer ${l} factor`);
        assert.ok(bytesOf(model.whitenedMeans).equals(bytesOf(original.whitenedMeans)), `layer ${l} whitened means`);
        assert.deepEqual(model.means, original.means);
        assert.deepEqual(model.choleskyFactor, original.choleskyFactor);
        assert.deepEqual(model.whitenedMeans, original.whitenedMeans);
        const probe = { data: queries[l], rows: 10, cols: DIMS[l] };
        assert.deepEqual(mahalanobisOutlierScores(model, probe), mahalanobisOutlierScores(original, probe));
      });
      // The two layers' ridges differ (1e-6 and 1e-3 relative), so a mix-up would show.
      assert.notEqual(densityModelsOf(loaded)[0].ridge, densityModelsOf(loaded)[1].ridge);
    } finally {
      loaded.indexes.forEach((i) => i.dispose());
    }
  });

  it('gives each layer its own search parameters when given one set per layer', async () => {
    const perLayer = [
      { ...graph, params: { ...hnsw, efSearch: 40 } },
      { ...graph, params: { ...hnsw, efSearch: 150 } },
    ];
    const result = await readCacheEntry(entryDir, key, perLayer);
    assert.ok(result.entry, result.miss?.reason);
    try {
      assert.deepEqual(
        result.entry.indexes.map((index) => (index as UsearchIndex).params.efSearch),
        [40, 150],
      );
    } finally {
      result.entry.indexes.forEach((i) => i.dispose());
    }
    const tooFew = await readCacheEntry(entryDir, key, [graph]);
    assert.equal(tooFew.entry, undefined);
    assert.match(tooFew.miss?.reason ?? '', /graph settings were given for fewer/);
  });

  it('overwrites an existing entry in place', async () => {
    const dir = join(tmp.dir, 'overwrite', key);
    await writeCacheEntry(dir, key, ['hidden1', 'hidden2'], entry);
    const relabelled = {
      ...entry,
      referenceLabels: entry.referenceLabels.map((y) => (y + 1) % CLASSES),
      models: {
        density: [
          fitMahalanobis({ data: vectors(POINTS, DIMS[0], 30), rows: POINTS, cols: DIMS[0] }, entry.referenceLabels, CLASSES),
          densityModelsOf(entry)[1],
        ],
      },
    };
    await writeCacheEntry(dir, key, ['hidden1', 'hidden2'], relabelled);
    assert.deepEqual(await readdir(join(tmp.dir, 'overwrite')), [key]);
    const result = await readCacheEntry(dir, key, graph);
    assert.ok(result.entry);
    result.entry.indexes.forEach((i) => i.dispose());
    assert.deepEqual(result.entry.referenceLabels, relabelled.referenceLabels);
    // The density files were replaced too, not left over from the first write.
    assert.deepEqual(densityModelsOf(result.entry)[0].means, densityModelsOf(relabelled)[0].means);
    assert.notDeepEqual(densityModelsOf(result.entry)[0].means, densityModelsOf(entry)[0].means);
  });

  it('reports a missing entry with no miss reason', async () => {
    const result = await readCacheEntry(join(cacheDir, 'f'.repeat(32)), 'f'.repeat(32), graph);
    assert.deepEqual(result, { miss: undefined });
  });

  it('misses on a flipped byte in a layer file', async () => {
    const dir = await copyOfEntry('flipped');
    const path = join(dir, 'layer-0.usearch');
    const bytes = await readFile(path);
    bytes[Math.floor(bytes.length / 2)] ^= 0x10;
    await writeFile(path, bytes);
    await expectMiss(dir, /^layer-0\.usearch fails its checksum$/);
  });

  it('misses on a truncated layer file or labels file', async () => {
    const dir = await copyOfEntry('truncated-layer');
    const size = (await readFile(join(dir, 'layer-1.usearch'))).byteLength;
    await truncate(join(dir, 'layer-1.usearch'), size - 7);
    await expectMiss(dir, new RegExp(`^layer-1\\.usearch has ${size - 7} bytes, expected ${size}$`));

    const dir2 = await copyOfEntry('truncated-labels');
    await truncate(join(dir2, 'labels.bin'), 12);
    await expectMiss(dir2, /^labels\.bin has 12 bytes, expected 200$/);
  });

  it('misses when calibration.json is deleted', async () => {
    const dir = await copyOfEntry('no-calibration');
    await rm(join(dir, 'calibration.json'));
    await expectMiss(dir, /calibration\.json/);
  });

  it("misses when meta.json's key was edited", async () => {
    const dir = await copyOfEntry('other-key');
    await editMeta(dir, (meta) => {
      meta.key = '0'.repeat(32);
    });
    await expectMiss(dir, new RegExp(`^meta\\.json names key ${'0'.repeat(32)}$`));
  });

  it('misses on a meta.json that is not JSON or not the schema', async () => {
    const dir = await copyOfEntry('meta-json');
    await writeFile(join(dir, 'meta.json'), '{"format": 1,');
    await expectMiss(dir, /JSON/);

    const dir2 = await copyOfEntry('meta-format');
    await editMeta(dir2, (meta) => {
      // An entry from the format before the reference models were keyed by signal.
      meta.format = 1;
    });
    await expectMiss(dir2, /format/);
  });

  it('misses when a layer file is listed but not checksummed', async () => {
    const dir = await copyOfEntry('unchecked-layer');
    await editMeta(dir, (meta) => {
      delete meta.files['layer-1.usearch'];
    });
    await expectMiss(dir, /^layer-1\.usearch is not checksummed$/);
  });

  it('misses on a flipped byte in a density file', async () => {
    const dir = await copyOfEntry('flipped-density');
    const path = join(dir, 'density-1.bin');
    const bytes = await readFile(path);
    bytes[100] ^= 0x01;
    await writeFile(path, bytes);
    await expectMiss(dir, /^density-1\.bin fails its checksum$/);
  });

  it('misses on a truncated density file', async () => {
    const dir = await copyOfEntry('truncated-density');
    await truncate(join(dir, 'density-0.bin'), 800);
    await expectMiss(dir, /^density-0\.bin has 800 bytes, expected 896$/);
  });

  it('misses when a density file is deleted', async () => {
    const dir = await copyOfEntry('no-density');
    await rm(join(dir, 'density-0.bin'));
    await expectMiss(dir, /ENOENT.*density-0\.bin/);
  });

  it('misses when a density file is listed but not checksummed', async () => {
    const dir = await copyOfEntry('unchecked-density');
    await editMeta(dir, (meta) => {
      delete meta.files['density-0.bin'];
    });
    await expectMiss(dir, /^density-0\.bin is not checksummed$/);
  });

  it('misses when meta.json has no density model for a layer (an entry made without the density signal)', async () => {
    const dir = await copyOfEntry('no-density-meta');
    await editMeta(dir, (meta) => {
      delete meta.layers[0].models.density;
      delete meta.layers[1].models.density;
      delete meta.files['density-0.bin'];
      delete meta.files['density-1.bin'];
    });
    await expectMiss(dir, /^meta\.json lists no density model for layer 0$/);
  });

  it('misses when the calibration combines other signals than the ones asked for', async () => {
    const result = await readCacheEntry(entryDir, key, graph, undefined, [labelSignal, distanceSignal]);
    assert.equal(result.entry, undefined);
    assert.match(result.miss?.reason ?? '', /^calibration\.json combines \[label, distance, density\], expected \[label, distance\]$/);
  });

  it('misses on a checksummed density file of the wrong size for its layer', async () => {
    // Consistently checksummed, so only the size check against dim and classes can catch it.
    const dir = await copyOfEntry('short-density');
    await replaceConsistently(dir, 'density-1.bin', (await readFile(join(dir, 'density-1.bin'))).subarray(0, 208));
    await expectMiss(dir, /^density file has 208 bytes, expected 216$/);

    // Layer 0 pointed at layer 1's (intact, checksummed) density file: refused by its name,
    // which also catches it between two layers of the same width, where the size cannot.
    const dir2 = await copyOfEntry('swapped-density');
    await editMeta(dir2, (meta) => {
      meta.layers[0].models.density.file = 'density-1.bin';
    });
    await expectMiss(dir2, /^meta\.json lists density-1\.bin as the density model of layer 0$/);

    // A class count edited in meta.json: the file no longer has the size it implies.
    const dir3 = await copyOfEntry('density-classes');
    await editMeta(dir3, (meta) => {
      meta.layers[1].models.density.meta.classes = CLASSES + 1;
    });
    await expectMiss(dir3, new RegExp(`^density file has 216 bytes, expected ${densitySize(3, CLASSES + 1)}$`));
  });

  it('misses on a density entry in meta.json that is not the schema', async () => {
    const dir = await copyOfEntry('density-ridge');
    await editMeta(dir, (meta) => {
      meta.layers[0].models.density.meta.ridge = -1;
    });
    await expectMiss(dir, /ridge/);

    const dir2 = await copyOfEntry('density-classes-zero');
    await editMeta(dir2, (meta) => {
      meta.layers[0].models.density.meta.classes = 0;
    });
    await expectMiss(dir2, /classes/);
  });

  it('misses when the graphs were built by another engine or with another fixed storage', async () => {
    await expectMiss(entryDir, /layer 0's graph was built by usearch, not hnswlib/, { ...graph, engine: 'hnswlib' });
    await expectMiss(entryDir, /layer 0's graph stores f32, not f16/, { ...graph, storage: 'f16' });
    // 'auto' takes whichever storage the build settled on.
    const auto = await readCacheEntry(entryDir, key, { ...graph, storage: 'auto' });
    assert.ok(auto.entry, auto.miss?.reason);
    auto.entry.indexes.forEach((i) => i.dispose());
  });

  it('misses when the graphs were built with other HNSW parameters', async () => {
    await expectMiss(entryDir, /connectivity 8.*expected M=16/, { ...graph, params: { ...hnsw, M: 16 } });
  });

  /** An entry with 49 labels, consistently checksummed: only the point-count check can catch it. */
  async function entryWithShortLabels(name: string): Promise<string> {
    const dir = await copyOfEntry(name);
    const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8'));
    const labels = (await readFile(join(dir, 'labels.bin'))).subarray(0, 49 * 4);
    await writeFile(join(dir, 'labels.bin'), labels);
    meta.files['labels.bin'] = { sha256: createHash('sha256').update(labels).digest('hex'), bytes: labels.byteLength };
    await writeFile(join(dir, 'meta.json'), JSON.stringify(meta));
    return dir;
  }

  it('misses when the entry lists other layers than the model indexes', async () => {
    const result = await readCacheEntry(entryDir, key, graph, ['input', 'hidden1', 'hidden2']);
    assert.equal(result.entry, undefined);
    assert.match(result.miss?.reason ?? '', /^meta\.json lists layers \[hidden1, hidden2\], expected \[input, hidden1, hidden2\]$/);
    const same = await readCacheEntry(entryDir, key, graph, ['hidden1', 'hidden2']);
    assert.ok(same.entry);
    same.entry.indexes.forEach((i) => i.dispose());
  });

  it('misses when the labels and a graph disagree on the point count', async () => {
    await expectMiss(await entryWithShortLabels('label-count'), /^layer-0\.usearch holds 50 points, labels\.bin 49$/);
  });

  it('pruneOtherEntries removes sibling entries but not temp folders, files or itself', async () => {
    const parent = join(tmp.dir, 'prune', 'tiny');
    const keep = join(parent, key);
    const otherKey = cacheKey({ ...baseParts, k: 7 });
    await writeCacheEntry(keep, key, ['hidden1', 'hidden2'], entry);
    await writeCacheEntry(join(parent, otherKey), otherKey, ['hidden1', 'hidden2'], entry);
    await mkdir(join(parent, 'stale-empty'));
    await mkdir(join(parent, '.tmp-4242-abcdef12'));
    await writeFile(join(parent, '.tmp-4242-abcdef12', 'layer-0.usearch'), 'partial');
    await writeFile(join(parent, 'notes.txt'), 'not an entry');

    const removed = await pruneOtherEntries(keep);
    assert.deepEqual(removed.sort(), [otherKey, 'stale-empty'].sort());
    assert.deepEqual((await readdir(parent)).sort(), ['.tmp-4242-abcdef12', key, 'notes.txt'].sort());
    assert.equal(await readFile(join(parent, '.tmp-4242-abcdef12', 'layer-0.usearch'), 'utf8'), 'partial');
    // The kept entry is intact and still loads.
    const result = await readCacheEntry(keep, key, graph);
    assert.ok(result.entry);
    result.entry.indexes.forEach((i) => i.dispose());
    // Nothing left to prune the second time.
    assert.deepEqual(await pruneOtherEntries(keep), []);
  });

  it('pruneOtherEntries with a prefix removes only the entries that share it', async () => {
    const parent = join(tmp.dir, 'prune-prefix', '_shared');
    await mkdir(join(parent, 'mnist-input-old'), { recursive: true });
    await mkdir(join(parent, 'fashion-mnist-input-other'));
    await mkdir(join(parent, 'mnist-input-new'));
    const removed = await pruneOtherEntries(join(parent, 'mnist-input-new'), 'mnist-input-');
    assert.deepEqual(removed, ['mnist-input-old']);
    assert.deepEqual((await readdir(parent)).sort(), ['fashion-mnist-input-other', 'mnist-input-new']);
  });

  it('pruneOtherEntries of an entry whose model folder does not exist removes nothing', async () => {
    assert.deepEqual(await pruneOtherEntries(join(tmp.dir, 'no-such-model', key)), []);
  });
});
