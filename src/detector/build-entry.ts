import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { yieldToEventLoop } from '../event-loop.js';
import type { Log } from '../log.js';
import { concatRows, rowRange, type Matrix } from '../math/matrix.js';
import { l2NormalizeRows } from '../math/normalize.js';
import type { Embedding, EmbeddingModel } from '../model/embedding.js';
import { INPUT_LAYER } from '../model/manifest.js';
import { GraphBuilder } from '../neighbors/graph-builder.js';
import { HnswIndex, type HnswParams } from '../neighbors/hnsw-index.js';
import type { NeighborIndex, Neighbors } from '../neighbors/neighbor-index.js';
import type { ReferenceSet } from '../reference/load-reference-set.js';
import { calibrate } from './calibration.js';
import { argmax } from './deep-knn-detector.js';
import { cacheKey, pruneOtherEntries, readCacheEntry, writeCacheEntry, type CacheEntry } from './index-cache.js';
import { evidenceFor, measureLayers, searchLayers } from './search.js';
import { withReference, type Signal, type SignalModels } from './signals/signal.js';

/** Bump when what a cache entry holds is computed differently, so old entries are rebuilt. */
export const SCORING_VERSION = 5;

/** Called as a cold build goes, for a progress bar: `stage` names the step, done of total rows. */
export type BuildProgress = (stage: string, done: number, total: number) => void;

/** What a cold build needs beyond the model and its data. */
export interface BuildSettings {
  cacheDir: string;
  k: number;
  labelWeight: number;
  /** Worker threads that build HNSW graphs side by side; 0 builds on the calling thread. */
  buildThreads: number;
  signals: readonly Signal[];
}

/** One layer's graph and, by signal name, the layer's reference model of each signal that has one. */
interface LayerArtifacts {
  index: NeighborIndex;
  models: Record<string, unknown>;
}

/**
 * Rows per slice of synchronous work between pauses for the event loop during a build, each
 * about a tenth of a second on the default model, so health checks keep being answered: 500 to
 * embed; 100 to search and measure in every layer (the Mahalanobis distances on the raw input
 * cost the most).
 */
const ROWS_PER_SLICE = 500;
const CALIBRATION_ROWS_PER_SLICE = 100;

const seconds = (since: number) => +((performance.now() - since) / 1000).toFixed(1);

async function buildLayer(
  acts: Matrix,
  labels: Int32Array,
  classes: number,
  hnsw: HnswParams,
  name: string,
  signals: readonly Signal[],
  log: Log,
  builder: GraphBuilder | undefined,
  progress?: BuildProgress,
): Promise<LayerArtifacts> {
  const normalized = l2NormalizeRows(acts);
  const vectors = normalized.data as Float32Array;
  const graphStarted = performance.now();
  const onProgress = (done: number) => progress?.(`graph ${name}`, done, acts.rows);
  // On a thread the graph goes up while this thread fits the reference models (and other
  // layers' graphs go up on the other threads).
  const graph = (builder ? builder.build(vectors, acts.rows, acts.cols, hnsw, onProgress) : buildGraphHere(vectors, acts.rows, acts.cols, hnsw, onProgress)).then(
    (index) => {
      log.info({ layer: name, points: acts.rows, dim: acts.cols, seconds: seconds(graphStarted) }, 'built HNSW graph');
      return index;
    },
  );
  // Settled now too, so a fit that throws first never leaves it unhandled.
  graph.catch(() => {});
  const models: Record<string, unknown> = {};
  for (const signal of withReference(signals)) {
    const fitStarted = performance.now();
    models[signal.name] = await signal.reference.fit(acts, labels, classes);
    log.info({ layer: name, dim: acts.cols, signal: signal.name, seconds: seconds(fitStarted) }, 'fitted a reference model');
  }
  return { index: await graph, models };
}

/**
 * Rows inserted into a graph between pauses. An insertion costs 1 to 2 ms late in a build of
 * the default model's layers, whatever their width (the search for its neighbours dominates).
 */
const GRAPH_ROWS_PER_SLICE = 50;

/** The graph on this thread, pausing for the event loop between slices of rows. */
async function buildGraphHere(vectors: Float32Array, rows: number, dim: number, hnsw: HnswParams, onProgress: (done: number) => void): Promise<HnswIndex> {
  const index = HnswIndex.create(dim, rows, hnsw);
  for (let start = 0; start < rows; start += GRAPH_ROWS_PER_SLICE) {
    const n = Math.min(GRAPH_ROWS_PER_SLICE, rows - start);
    index.addAll(vectors.subarray(start * dim, (start + n) * dim), n);
    onProgress(start + n);
    await yieldToEventLoop();
  }
  return index;
}

/** Activations of many rows, a slice at a time, pausing for the event loop in between. */
async function embedYielding(embedder: EmbeddingModel, x: Matrix, stage = 'embed', progress?: BuildProgress): Promise<Embedding> {
  const parts: Embedding[] = [];
  for (let start = 0; start < x.rows; start += ROWS_PER_SLICE) {
    const n = Math.min(ROWS_PER_SLICE, x.rows - start);
    parts.push(await embedder.embed(rowRange(x, start, n).data as Float32Array, n));
    progress?.(stage, start + n, x.rows);
    await yieldToEventLoop();
  }
  const join = (pick: (e: Embedding) => Matrix): Matrix =>
    concatRows(
      parts.map((p) => pick(p).data as Float32Array),
      x.rows,
      pick(parts[0]).cols,
    );
  return {
    probabilities: join((e) => e.probabilities),
    activations: parts[0].activations.map((_, l) => join((e) => e.activations[l])),
    extras: parts[0].extras.map((_, l) => join((e) => e.extras[l])),
  };
}

/**
 * The raw input's graph and reference models depend on the data alone, not on the model, so
 * every model trained on a reference set shares one copy under `<cacheDir>/_shared/`: a second
 * model (or a retrained one) skips the most expensive layer to build.
 */
interface SharedInput {
  /** The cached graph and models, when the shared entry was usable. */
  cached?: LayerArtifacts;
  /** Stores a freshly built input layer as the shared entry. */
  save(built: LayerArtifacts): Promise<void>;
}

async function sharedInputLayer(refset: ReferenceSet, hnsw: HnswParams, settings: BuildSettings, log: Log): Promise<SharedInput> {
  const modelled = withReference(settings.signals);
  const key = cacheKey({
    modelFingerprint: 'none: the raw input',
    dataFingerprint: refset.fingerprint,
    layers: [INPUT_LAYER],
    k: 0,
    // efSearch only matters when searching, so it must not split the shared entry.
    hnsw: { ...hnsw, efSearch: 0 },
    extra: { models: modelled.map((s) => s.name), scoring: SCORING_VERSION },
  });
  // '_shared' cannot be a model name, so it never collides with a model's own folder.
  const prefix = `${refset.manifest.name}-input-`;
  const dir = join(settings.cacheDir, '_shared', `${prefix}${key}`);
  const asEntry = (built: LayerArtifacts): CacheEntry => ({
    indexes: [built.index],
    models: Object.fromEntries(modelled.map((s) => [s.name, [built.models[s.name]]])),
    referenceLabels: refset.train.labels,
  });
  const save = async (built: LayerArtifacts) => {
    await writeCacheEntry(dir, key, [INPUT_LAYER], asEntry(built), settings.signals);
    await pruneOtherEntries(dir, prefix);
  };
  const cached = await readCacheEntry(dir, key, hnsw, [INPUT_LAYER], settings.signals);
  if (cached.entry) {
    log.info({ cache: dir }, 'reusing the shared input-layer graph and reference models');
    const models = Object.fromEntries(modelled.map((s) => [s.name, cached.entry?.models[s.name][0]]));
    // As a fresh fit is, so the calibration's first slice does not do it in one piece.
    for (const signal of modelled) await signal.reference.prepare?.(models[signal.name]);
    return { cached: { index: cached.entry.indexes[0], models }, save };
  }
  if (cached.miss) log.warn({ cache: dir, reason: cached.miss.reason }, 'shared input-layer entry unusable, rebuilding it');
  return { save };
}

/** Embeds the reference and calibration data, builds every layer's graph and models, and calibrates. */
export async function buildEntry(
  embedder: EmbeddingModel,
  refset: ReferenceSet,
  layers: string[],
  layerHnsw: HnswParams[],
  settings: BuildSettings,
  log: Log,
  progress?: BuildProgress,
): Promise<CacheEntry> {
  const { signals } = settings;
  const train = refset.train;
  const trainActs = (await embedYielding(embedder, train.x, 'embed reference', progress)).activations;
  const cal = refset.calibration;
  const { probabilities, activations } = await embedYielding(embedder, cal.x, 'embed calibration', progress);
  const classes = probabilities.cols;
  await mkdir(settings.cacheDir, { recursive: true });
  const builder = settings.buildThreads > 0 ? new GraphBuilder(settings.buildThreads, settings.cacheDir) : undefined;
  const inputAt = layers.indexOf(INPUT_LAYER);
  const shared = inputAt >= 0 ? await sharedInputLayer(refset, layerHnsw[inputAt], settings, log) : undefined;
  const layerArtifacts = async (l: number): Promise<LayerArtifacts> => {
    if (layers[l] === INPUT_LAYER && shared?.cached) return shared.cached;
    const made = await buildLayer(trainActs[l], train.labels, classes, layerHnsw[l], layers[l], signals, log, builder, progress);
    if (layers[l] === INPUT_LAYER) await shared?.save(made);
    return made;
  };
  // Every layer at once, widest first: the graphs queue for the build threads in that order, so
  // the longest one starts at once, and the reference models' fits share this thread meanwhile.
  const byWidth = trainActs.map((_, l) => l).sort((a, b) => trainActs[b].cols - trainActs[a].cols);
  const started = new Map(byWidth.map((l) => [l, layerArtifacts(l)]));
  const built = await Promise.all(trainActs.map((_, l) => started.get(l) as Promise<LayerArtifacts>));
  const indexes = built.map((b) => b.index);
  const models: SignalModels = Object.fromEntries(withReference(signals).map((s) => [s.name, built.map((b) => b.models[s.name])]));
  const predicted = Int32Array.from({ length: cal.x.rows }, (_, i) => argmax(probabilities.data, i * classes, classes));
  const neighbors: Neighbors[][] = layers.map(() => []);
  const measured: Record<string, Float64Array[]> = Object.fromEntries(
    withReference(signals).map((s) => [s.name, layers.map(() => new Float64Array(cal.x.rows))]),
  );
  for (let start = 0; start < cal.x.rows; start += CALIBRATION_ROWS_PER_SLICE) {
    const n = Math.min(CALIBRATION_ROWS_PER_SLICE, cal.x.rows - start);
    const slice = activations.map((m) => rowRange(m, start, n));
    searchLayers(indexes, slice, settings.k, layers).forEach((found, l) => neighbors[l].push(...found));
    await yieldToEventLoop();
    for (const [name, byLayer] of Object.entries(measureLayers(signals, models, slice))) {
      byLayer.forEach((values, l) => measured[name][l].set(values, start));
    }
    progress?.('calibrate', start + n, cal.x.rows);
    await yieldToEventLoop();
  }
  const evidence = evidenceFor(neighbors, measured, cal.x.rows, train.labels, classes);
  const calibration = calibrate({ evidence, predicted, labels: cal.labels }, settings.k, classes, settings.labelWeight, signals);
  return { indexes, referenceLabels: train.labels, models, calibration };
}
