import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { calibrationMismatch, CalibrationStateSchema, type CalibrationState } from './calibration.js';
import { HnswIndex, type HnswParams } from '../neighbors/hnsw-index.js';
import type { NeighborIndex } from '../neighbors/neighbor-index.js';
import { withReference, type Signal, type SignalModels } from './signals/signal.js';
import { SIGNALS } from './signals/table.js';

/**
 * The on-disk cache of built graphs and calibration, under `<cacheDir>/<model>/<key>/`. The key
 * hashes everything the contents depend on, so a changed input lands in a new folder. An entry
 * is written into a temp folder and renamed into place whole; its meta.json lists a sha256 for
 * every file, checked before anything is handed to hnswlib (whose reader trusts its input).
 */
export const CACHE_FORMAT = 2;

const MetaSchema = z.object({
  format: z.literal(CACHE_FORMAT),
  key: z.string(),
  layers: z.array(
    z.object({
      name: z.string(),
      dim: z.number().int().positive(),
      file: z.string(),
      /** By signal name: the file of its reference model for this layer, and what decoding it needs. */
      models: z.record(z.string(), z.object({ file: z.string(), meta: z.unknown() })),
    }),
  ),
  files: z.record(z.string(), z.object({ sha256: z.string(), bytes: z.number().int().nonnegative() })),
  createdAt: z.string(),
});

export interface CacheEntry {
  indexes: NeighborIndex[];
  referenceLabels: Int32Array;
  /** The reference models of the signals that have one. */
  models: SignalModels;
  /** Absent in a shared layer entry, which holds one model-independent layer (the input). */
  calibration?: CalibrationState;
}

/**
 * A layer's files are named by its position. meta.json lists them, but it carries no checksum
 * of its own, so the reader checks the names too: one changed character ("layer-0" to "layer-1")
 * would otherwise hand one layer the other's graph whenever two layers have the same width.
 */
const layerFile = (l: number) => `layer-${l}.hnsw`;
const modelFile = (signal: string, l: number) => `${signal}-${l}.bin`;

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

/**
 * `hnsw` holds either one set of parameters for every layer, or one per layer in order. The
 * entry's reference models are decoded by the signals that made them.
 */
export async function readCacheEntry(
  entryDir: string,
  key: string,
  hnsw: HnswParams | readonly HnswParams[],
  expectedLayers?: string[],
  signals: readonly Signal[] = SIGNALS,
): Promise<{ entry?: CacheEntry; miss?: CacheMiss }> {
  let metaText: string;
  try {
    metaText = await readFile(join(entryDir, 'meta.json'), 'utf8');
  } catch {
    return { miss: undefined };
  }
  const indexes: NeighborIndex[] = [];
  const fail = (reason: string) => {
    // hnswlib's graphs live outside the JS heap: a miss must not strand the ones already read.
    indexes.forEach((i) => i.dispose());
    return { miss: { reason } };
  };
  try {
    const meta = MetaSchema.parse(JSON.parse(metaText));
    if (meta.key !== key) return fail(`meta.json names key ${meta.key}`);
    const layerNames = meta.layers.map((l) => l.name);
    if (expectedLayers && layerNames.join('\u0000') !== expectedLayers.join('\u0000')) {
      return fail(`meta.json lists layers [${layerNames.join(', ')}], expected [${expectedLayers.join(', ')}]`);
    }
    const contents = new Map<string, Buffer>();
    for (const [file, expected] of Object.entries(meta.files)) {
      const buf = await readFile(join(entryDir, file));
      if (buf.byteLength !== expected.bytes) return fail(`${file} has ${buf.byteLength} bytes, expected ${expected.bytes}`);
      if (sha256(buf) !== expected.sha256) return fail(`${file} fails its checksum`);
      contents.set(file, buf);
    }
    const labelsBuf = contents.get('labels.bin');
    const calibrationBuf = contents.get('calibration.json');
    if (!labelsBuf) return fail('labels.bin is missing');
    const calibration = calibrationBuf ? CalibrationStateSchema.parse(JSON.parse(calibrationBuf.toString('utf8'))) : undefined;
    const mismatch = calibration && calibrationMismatch(calibration, signals, meta.layers.length);
    if (mismatch) return fail(mismatch);
    const referenceLabels = new Int32Array(labelsBuf.buffer.slice(labelsBuf.byteOffset, labelsBuf.byteOffset + labelsBuf.byteLength));
    const modelled = withReference(signals);
    const models: SignalModels = Object.fromEntries(modelled.map((s) => [s.name, []]));
    for (const [l, layer] of meta.layers.entries()) {
      if (layer.file !== layerFile(l)) return fail(`meta.json lists ${layer.file} for layer ${l}`);
      if (!contents.has(layer.file)) return fail(`${layer.file} is not checksummed`);
      for (const signal of modelled) {
        const stored = layer.models[signal.name];
        if (!stored) return fail(`meta.json lists no ${signal.name} model for layer ${l}`);
        if (stored.file !== modelFile(signal.name, l)) return fail(`meta.json lists ${stored.file} as the ${signal.name} model of layer ${l}`);
        const bytes = contents.get(stored.file);
        if (!bytes) return fail(`${stored.file} is not checksummed`);
        models[signal.name].push(signal.reference.decode(bytes, stored.meta, layer.dim));
      }
      const params = isPerLayer(hnsw) ? hnsw[l] : hnsw;
      if (!params) return fail(`meta.json lists ${meta.layers.length} layers, but search parameters were given for fewer`);
      const index = await HnswIndex.load(join(entryDir, layer.file), layer.dim, params);
      indexes.push(index);
      if (index.size !== referenceLabels.length) return fail(`${layer.file} holds ${index.size} points, labels.bin ${referenceLabels.length}`);
    }
    return { entry: { indexes, referenceLabels, models, calibration } };
  } catch (err) {
    return fail((err as Error).message);
  }
}

export async function writeCacheEntry(
  entryDir: string,
  key: string,
  layerNames: string[],
  entry: CacheEntry,
  signals: readonly Signal[] = SIGNALS,
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
      const models: Record<string, { file: string; meta: unknown }> = {};
      for (const signal of withReference(signals)) {
        const model = entry.models[signal.name]?.[l];
        if (model === undefined) throw new Error(`the entry has no ${signal.name} model for layer ${l}`);
        const { bytes, meta } = signal.reference.encode(model);
        const name = modelFile(signal.name, l);
        await put(name, bytes);
        models[signal.name] = { file: name, meta };
      }
      layers.push({ name: layerNames[l], dim: index.dim, file, models });
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
