import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { CalibrationStateSchema, type CalibrationState } from './calibration.js';
import { HnswIndex, type HnswParams } from '../neighbors/hnsw-index.js';
import type { NeighborIndex } from '../neighbors/neighbor-index.js';
import type { MahalanobisModel } from '../baselines/mahalanobis.js';

/**
 * The on-disk cache of built graphs and calibration, under `<cacheDir>/<model>/<key>/`. The key
 * hashes everything the contents depend on, so a changed input lands in a new folder. An entry
 * is written into a temp folder and renamed into place whole; its meta.json lists a sha256 for
 * every file, checked before anything is handed to hnswlib (whose reader trusts its input).
 */
export const CACHE_FORMAT = 1;

const MetaSchema = z.object({
  format: z.literal(CACHE_FORMAT),
  key: z.string(),
  layers: z.array(
    z.object({
      name: z.string(),
      dim: z.number().int().positive(),
      file: z.string(),
      density: z.object({ file: z.string(), classes: z.number().int().positive(), ridge: z.number().nonnegative() }),
    }),
  ),
  files: z.record(z.string(), z.object({ sha256: z.string(), bytes: z.number().int().nonnegative() })),
  createdAt: z.string(),
});

export interface CacheEntry {
  indexes: NeighborIndex[];
  referenceLabels: Int32Array;
  densityModels: MahalanobisModel[];
  /** Absent in a shared layer entry, which holds one model-independent layer (the input). */
  calibration?: CalibrationState;
}

/** A Mahalanobis fit as one float64 file: means, then the Cholesky factor, then whitened means. */
function densityBytes(m: MahalanobisModel): Uint8Array {
  const all = new Float64Array(2 * m.classes * m.dim + m.dim * m.dim);
  all.set(m.means, 0);
  all.set(m.choleskyFactor, m.classes * m.dim);
  all.set(m.whitenedMeans, m.classes * m.dim + m.dim * m.dim);
  return new Uint8Array(all.buffer);
}

function densityFromBytes(buf: Buffer, dim: number, classes: number, ridge: number): MahalanobisModel {
  const expected = 8 * (2 * classes * dim + dim * dim);
  if (buf.byteLength !== expected) throw new Error(`density file has ${buf.byteLength} bytes, expected ${expected}`);
  const all = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const a = classes * dim;
  return {
    dim,
    classes,
    ridge,
    means: all.subarray(0, a),
    choleskyFactor: all.subarray(a, a + dim * dim),
    whitenedMeans: all.subarray(a + dim * dim),
  };
}

/**
 * A layer's files are named by its position. meta.json lists them, but it carries no checksum
 * of its own, so the reader checks the names too: one changed character ("layer-0" to "layer-1")
 * would otherwise hand one layer the other's graph whenever two layers have the same width.
 */
const layerFile = (l: number) => `layer-${l}.hnsw`;
const densityFile = (l: number) => `density-${l}.bin`;

export interface CacheKeyParts {
  modelFingerprint: string;
  dataFingerprint: string;
  layers: string[];
  k: number;
  hnsw: HnswParams;
  /** Anything else the contents depend on (signals, combination, code version). */
  extra: Record<string, unknown>;
}

export function cacheKey(parts: CacheKeyParts): string {
  return createHash('sha256').update(JSON.stringify({ format: CACHE_FORMAT, ...parts })).digest('hex').slice(0, 32);
}

const sha256 = (buf: Uint8Array) => createHash('sha256').update(buf).digest('hex');

/** Why an entry was not usable, for the log line; undefined when there was simply none. */
export type CacheMiss = { reason: string } | undefined;

const isPerLayer = (hnsw: HnswParams | readonly HnswParams[]): hnsw is readonly HnswParams[] => Array.isArray(hnsw);

/** `hnsw` holds either one set of parameters for every layer, or one per layer in order. */
export async function readCacheEntry(
  entryDir: string,
  key: string,
  hnsw: HnswParams | readonly HnswParams[],
  expectedLayers?: string[],
): Promise<{ entry?: CacheEntry; miss?: CacheMiss }> {
  let metaText: string;
  try {
    metaText = await readFile(join(entryDir, 'meta.json'), 'utf8');
  } catch {
    return { miss: undefined };
  }
  try {
    const meta = MetaSchema.parse(JSON.parse(metaText));
    if (meta.key !== key) return { miss: { reason: `meta.json names key ${meta.key}` } };
    const layerNames = meta.layers.map((l) => l.name);
    if (expectedLayers && layerNames.join('\u0000') !== expectedLayers.join('\u0000')) {
      return { miss: { reason: `meta.json lists layers [${layerNames.join(', ')}], expected [${expectedLayers.join(', ')}]` } };
    }
    const contents = new Map<string, Buffer>();
    for (const [file, expected] of Object.entries(meta.files)) {
      const buf = await readFile(join(entryDir, file));
      if (buf.byteLength !== expected.bytes) {
        return { miss: { reason: `${file} has ${buf.byteLength} bytes, expected ${expected.bytes}` } };
      }
      if (sha256(buf) !== expected.sha256) return { miss: { reason: `${file} fails its checksum` } };
      contents.set(file, buf);
    }
    const labelsBuf = contents.get('labels.bin');
    const calibrationBuf = contents.get('calibration.json');
    if (!labelsBuf) return { miss: { reason: 'labels.bin is missing' } };
    const calibration = calibrationBuf ? CalibrationStateSchema.parse(JSON.parse(calibrationBuf.toString('utf8'))) : undefined;
    if (calibration && (calibration.distanceScales.length !== meta.layers.length || calibration.densityScales.length !== meta.layers.length)) {
      return { miss: { reason: `calibration.json has scales for a different number of layers than meta.json's ${meta.layers.length}` } };
    }
    const referenceLabels = new Int32Array(labelsBuf.buffer.slice(labelsBuf.byteOffset, labelsBuf.byteOffset + labelsBuf.byteLength));
    const indexes: NeighborIndex[] = [];
    const densityModels: MahalanobisModel[] = [];
    for (const [l, layer] of meta.layers.entries()) {
      if (layer.file !== layerFile(l) || layer.density.file !== densityFile(l)) {
        indexes.forEach((i) => i.dispose());
        return { miss: { reason: `meta.json lists ${layer.file} and ${layer.density.file} for layer ${l}` } };
      }
      const densityBuf = contents.get(layer.density.file);
      if (!contents.has(layer.file) || !densityBuf) {
        indexes.forEach((i) => i.dispose());
        return { miss: { reason: `${layer.file} or ${layer.density.file} is not checksummed` } };
      }
      densityModels.push(densityFromBytes(densityBuf, layer.dim, layer.density.classes, layer.density.ridge));
      const params = isPerLayer(hnsw) ? hnsw[l] : hnsw;
      if (!params) {
        indexes.forEach((i) => i.dispose());
        return { miss: { reason: `meta.json lists ${meta.layers.length} layers, but search parameters were given for fewer` } };
      }
      const index = await HnswIndex.load(join(entryDir, layer.file), layer.dim, params);
      if (index.size !== referenceLabels.length) {
        const reason = `${layer.file} holds ${index.size} points, labels.bin ${referenceLabels.length}`;
        indexes.forEach((i) => i.dispose());
        index.dispose();
        return { miss: { reason } };
      }
      indexes.push(index);
    }
    return { entry: { indexes, referenceLabels, densityModels, calibration } };
  } catch (err) {
    return { miss: { reason: (err as Error).message } };
  }
}

export async function writeCacheEntry(
  entryDir: string,
  key: string,
  layerNames: string[],
  entry: CacheEntry,
): Promise<void> {
  const parent = join(entryDir, '..');
  await mkdir(parent, { recursive: true });
  const tmp = join(parent, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  try {
    const files: Record<string, { sha256: string; bytes: number }> = {};
    const put = async (file: string, data: Uint8Array) => {
      await writeFile(join(tmp, file), data);
      files[file] = { sha256: sha256(data), bytes: data.byteLength };
    };
    const layers = [];
    for (const [l, index] of entry.indexes.entries()) {
      const file = layerFile(l);
      await index.save(join(tmp, file));
      const data = await readFile(join(tmp, file));
      files[file] = { sha256: sha256(data), bytes: data.byteLength };
      const density = entry.densityModels[l];
      const densityName = densityFile(l);
      await put(densityName, densityBytes(density));
      layers.push({ name: layerNames[l], dim: index.dim, file, density: { file: densityName, classes: density.classes, ridge: density.ridge } });
    }
    await put('labels.bin', new Uint8Array(entry.referenceLabels.buffer, entry.referenceLabels.byteOffset, entry.referenceLabels.byteLength));
    if (entry.calibration) await put('calibration.json', Buffer.from(JSON.stringify(entry.calibration)));
    const meta = { format: CACHE_FORMAT, key, layers, files, createdAt: new Date().toISOString() };
    await writeFile(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2));
    await rm(entryDir, { recursive: true, force: true });
    try {
      await rename(tmp, entryDir);
    } catch (err) {
      // Another process sharing the cache put the same entry in place first: it holds what this
      // one does (same key, same inputs), so keep theirs.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      await rm(tmp, { recursive: true, force: true });
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Remove every other entry beside this one (of the same model, or with the same name prefix in
 * a folder shared by several kinds of entry): after a rebuild they can only be stale.
 */
export async function pruneOtherEntries(entryDir: string, prefix = ''): Promise<string[]> {
  const parent = join(entryDir, '..');
  const keep = entryDir.split('/').pop();
  const removed: string[] = [];
  const entries = await readdir(parent, { withFileTypes: true }).catch(() => []);
  for (const dirent of entries) {
    const name = dirent.name;
    // Another process's half-written entry is its own to finish or remove.
    if (!dirent.isDirectory() || name === keep || name.startsWith('.tmp-') || !name.startsWith(prefix)) continue;
    // force: another replica sharing the cache may have removed it first.
    await rm(join(parent, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
