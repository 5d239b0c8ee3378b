import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { calibrationMismatch, CalibrationStateSchema, type CalibrationState } from './calibration.js';
import { GRAPH_FILE_EXTENSION, NeighborEngineSchema, openGraph, type GraphSpec, type NeighborEngine } from '../neighbors/graph-engine.js';
import type { HnswParams } from '../neighbors/hnsw-params.js';
import type { NeighborIndex } from '../neighbors/neighbor-index.js';
import { StorageSchema } from '../neighbors/storage.js';
import { withReference, type Signal, type SignalModels } from './signals/signal.js';
import { SIGNALS } from './signals/table.js';

/**
 * The on-disk cache of built graphs and calibration, under `<cacheDir>/<model>/<key>/`. The key
 * hashes everything the contents depend on, so a changed input lands in a new folder. An entry
 * is written into a temp folder and renamed into place whole, and never changed after, so a
 * graph file can stay memory-mapped while the entry is in use. Its meta.json lists a sha256 for
 * every file, checked before anything is handed to a graph engine (whose readers trust their
 * input). Format 3 records each layer's engine and storage; older entries are rebuilt.
 */
export const CACHE_FORMAT = 3;

/** A layer's graph as built: the engine, the storage it ended with, and the recall that chose it. */
export const GraphRecordSchema = z.object({
  engine: NeighborEngineSchema,
  storage: StorageSchema,
  recall: z.number().min(0).max(1).optional(),
});
export type GraphRecord = z.infer<typeof GraphRecordSchema>;

const MetaSchema = z.object({
  format: z.literal(CACHE_FORMAT),
  key: z.string(),
  layers: z.array(
    z.object({
      name: z.string(),
      dim: z.number().int().positive(),
      file: z.string(),
      graph: GraphRecordSchema,
      /** By signal name: the file of its reference model for this layer, and what decoding it needs. */
      models: z.record(z.string(), z.object({ file: z.string(), meta: z.unknown() })),
    }),
  ),
  files: z.record(z.string(), z.object({ sha256: z.string(), bytes: z.number().int().nonnegative() })),
  createdAt: z.string(),
});

export interface CacheEntry {
  indexes: NeighborIndex[];
  /** Per layer, aligned with indexes. */
  graphs: GraphRecord[];
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
const layerFile = (l: number, engine: NeighborEngine) => `layer-${l}.${GRAPH_FILE_EXTENSION[engine]}`;
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

/** A graph file's checksum, streamed: it can be far larger than anything worth holding twice. */
async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Why an entry was not usable, for the log line; undefined when there was simply none. */
export type CacheMiss = { reason: string } | undefined;

const isPerLayer = (graphs: GraphSpec | readonly GraphSpec[]): graphs is readonly GraphSpec[] => Array.isArray(graphs);

export interface ReadOptions {
  /** Memory-map the graphs where the engine can (usearch), rather than reading them into memory. */
  map?: boolean;
}

/**
 * `graphs` holds either one spec for every layer, or one per layer in order; an entry built by
 * another engine, or with another fixed storage, is a miss. The entry's reference models are
 * decoded by the signals that made them.
 */
export async function readCacheEntry(
  entryDir: string,
  key: string,
  graphs: GraphSpec | readonly GraphSpec[],
  expectedLayers?: string[],
  signals: readonly Signal[] = SIGNALS,
  options: ReadOptions = {},
): Promise<{ entry?: CacheEntry; miss?: CacheMiss }> {
  let metaText: string;
  try {
    metaText = await readFile(join(entryDir, 'meta.json'), 'utf8');
  } catch {
    return { miss: undefined };
  }
  const indexes: NeighborIndex[] = [];
  const fail = (reason: string) => {
    // The graphs live outside the JS heap: a miss must not strand the ones already read.
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
    const graphFiles = new Set(meta.layers.map((l) => l.file));
    const contents = new Map<string, Buffer>();
    for (const [file, expected] of Object.entries(meta.files)) {
      const path = join(entryDir, file);
      // Graphs are checked as a stream and opened by their engine; everything else is small.
      const buf = graphFiles.has(file) ? undefined : await readFile(path);
      const bytes = buf ? buf.byteLength : (await stat(path)).size;
      if (bytes !== expected.bytes) return fail(`${file} has ${bytes} bytes, expected ${expected.bytes}`);
      if ((buf ? sha256(buf) : await fileSha256(path)) !== expected.sha256) return fail(`${file} fails its checksum`);
      if (buf) contents.set(file, buf);
    }
    const checked = new Set(Object.keys(meta.files));
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
      const spec = isPerLayer(graphs) ? graphs[l] : graphs;
      if (!spec) return fail(`meta.json lists ${meta.layers.length} layers, but graph settings were given for fewer`);
      if (layer.graph.engine !== spec.engine) return fail(`layer ${l}'s graph was built by ${layer.graph.engine}, not ${spec.engine}`);
      if (spec.storage !== 'auto' && layer.graph.storage !== spec.storage) return fail(`layer ${l}'s graph stores ${layer.graph.storage}, not ${spec.storage}`);
      if (layer.file !== layerFile(l, spec.engine)) return fail(`meta.json lists ${layer.file} for layer ${l}`);
      if (!checked.has(layer.file)) return fail(`${layer.file} is not checksummed`);
      for (const signal of modelled) {
        const stored = layer.models[signal.name];
        if (!stored) return fail(`meta.json lists no ${signal.name} model for layer ${l}`);
        if (stored.file !== modelFile(signal.name, l)) return fail(`meta.json lists ${stored.file} as the ${signal.name} model of layer ${l}`);
        const bytes = contents.get(stored.file);
        if (!bytes) return fail(`${stored.file} is not checksummed`);
        models[signal.name].push(signal.reference.decode(bytes, stored.meta, layer.dim));
      }
      const index = await openGraph(spec.engine, layer.graph.storage, join(entryDir, layer.file), layer.dim, spec.params, { map: options.map ?? false });
      indexes.push(index);
      if (index.size !== referenceLabels.length) return fail(`${layer.file} holds ${index.size} points, labels.bin ${referenceLabels.length}`);
    }
    return { entry: { indexes, graphs: meta.layers.map((l) => l.graph), referenceLabels, models, calibration } };
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
      const graph = entry.graphs[l];
      if (!graph) throw new Error(`the entry has no graph record for layer ${l}`);
      const file = layerFile(l, graph.engine);
      await index.save(join(tmp, file));
      files[file] = { sha256: await fileSha256(join(tmp, file)), bytes: (await stat(join(tmp, file))).size };
      const models: Record<string, { file: string; meta: unknown }> = {};
      for (const signal of withReference(signals)) {
        const model = entry.models[signal.name]?.[l];
        if (model === undefined) throw new Error(`the entry has no ${signal.name} model for layer ${l}`);
        const { bytes, meta } = signal.reference.encode(model);
        const name = modelFile(signal.name, l);
        await put(name, bytes);
        models[signal.name] = { file: name, meta };
      }
      layers.push({ name: layerNames[l], dim: index.dim, file, graph, models });
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
