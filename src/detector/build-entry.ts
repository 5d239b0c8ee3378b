import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { yieldToEventLoop } from '../event-loop.js';
import type { Log } from '../log.js';
import { concatRows, rowRange, type Matrix } from '../math/matrix.js';
import { l2NormalizeRows } from '../math/normalize.js';
import type { Embedding, EmbeddingModel } from '../model/embedding.js';
import { INPUT_LAYER } from '../model/manifest.js';
import { buildGraph, type GraphOutcome, type RecallProbe } from '../neighbors/graph-build.js';
import { GraphBuilder } from '../neighbors/graph-builder.js';
import type { GraphSpec } from '../neighbors/graph-engine.js';
import type { NeighborIndex, Neighbors } from '../neighbors/neighbor-index.js';
import type { ReferenceSet } from '../reference/load-reference-set.js';
import { calibrate } from './calibration.js';
import { argmax } from './deep-knn-detector.js';
import { cacheKey, pruneOtherEntries, readCacheEntry, writeCacheEntry, type CacheEntry, type GraphRecord } from './index-cache.js';
import { evidenceFor, measureLayers, searchLayers } from './search.js';
import { withReference, type Signal, type SignalModels } from './signals/signal.js';

/** Bump when what a cache entry holds is computed differently, so old entries are rebuilt. */
export const SCORING_VERSION = 8;

/** Called as a cold build goes, for a progress bar: `stage` names the step, done of total rows. */
export type BuildProgress = (stage: string, done: number, total: number) => void;

/** What a cold build needs beyond the model and its data. */
export interface BuildSettings {
  cacheDir: string;
  k: number;
  labelWeight: number;
  /** Cores to build graphs on, off the calling thread; 0 builds on the calling thread. */
  buildThreads: number;
  signals: readonly Signal[];
}

/** One layer's graph and, by signal name, the layer's reference model of each signal that has one. */
interface LayerArtifacts {
  index: NeighborIndex;
  graph: GraphRecord;
  models: Record<string, unknown>;
}

/** Calibration rows that measure each graph's recall: enough for recall to two decimals, few enough to scan exactly in a moment. */
const RECALL_PROBE_ROWS = 200;

/** Evenly spaced calibration rows of one layer, L2-normalised as they are searched. */
function recallProbe(calibration: Matrix, k: number): RecallProbe {
  const rows = Math.min(RECALL_PROBE_ROWS, calibration.rows);
  const step = calibration.rows / Math.max(1, rows);
  const picked = new Float32Array(rows * calibration.cols);
  for (let i = 0; i < rows; i++) picked.set(rowRange(calibration, Math.floor(i * step), 1).data, i * calibration.cols);
  const data = l2NormalizeRows({ data: picked, rows, cols: calibration.cols }).data as Float32Array;
  return { data, rows, k };
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

interface LayerJob {
  acts: Matrix;
  /** The same layer's calibration activations, for the recall check. */
  calibration: Matrix;
  spec: GraphSpec;
  name: string;
}

async function buildLayer(job: LayerJob, labels: Int32Array, classes: number, settings: BuildSettings, log: Log, builder: GraphBuilder | undefined, progress?: BuildProgress): Promise<LayerArtifacts> {
  const { acts, spec, name } = job;
  const vectors = l2NormalizeRows(acts).data as Float32Array;
  const graphJob = { vectors, rows: acts.rows, dim: acts.cols, spec, probe: recallProbe(job.calibration, settings.k), buildThreads: Math.max(1, settings.buildThreads) };
  const graphStarted = performance.now();
  const onProgress = (done: number) => progress?.(`graph ${name}`, done, acts.rows);
  // On a thread the graph goes up while this thread fits the reference models (and other
  // layers' graphs go up on the other threads).
  const graph = (builder ? builder.build(graphJob, onProgress) : buildGraphHere({ ...graphJob, buildThreads: 1 }, onProgress)).then(({ index, outcome }) => {
    log.info({ layer: name, points: acts.rows, dim: acts.cols, engine: spec.engine, ...outcomeFields(outcome), seconds: seconds(graphStarted) }, 'built HNSW graph');
    const record: GraphRecord = { engine: spec.engine, storage: outcome.storage, ...(outcome.recall !== undefined ? { recall: outcome.recall } : {}) };
    return { index, graph: record };
  });
  // Settled now too, so a fit that throws first never leaves it unhandled.
  graph.catch(() => {});
  const models: Record<string, unknown> = {};
  for (const signal of withReference(settings.signals)) {
    const fitStarted = performance.now();
    models[signal.name] = await signal.reference.fit(acts, labels, classes);
    log.info({ layer: name, dim: acts.cols, signal: signal.name, seconds: seconds(fitStarted) }, 'fitted a reference model');
  }
  return { ...(await graph), models };
}

const outcomeFields = (outcome: GraphOutcome) => ({
  storage: outcome.storage,
  ...(outcome.recall !== undefined ? { recall: +outcome.recall.toFixed(4) } : {}),
  ...(outcome.rejected ? { rejected: `${outcome.rejected.storage} (recall ${outcome.rejected.recall.toFixed(4)})` } : {}),
});

/**
 * Rows inserted into a graph between pauses. An insertion costs 1 to 2 ms late in a build of
 * the default model's layers, whatever their width (the search for its neighbours dominates).
 */
const GRAPH_ROWS_PER_SLICE = 50;

/** The graph on this thread, one core, pausing for the event loop between slices of rows. */
function buildGraphHere(job: Parameters<typeof buildGraph>[0], onProgress: (done: number) => void) {
  return buildGraph(job, {
    chunkRows: GRAPH_ROWS_PER_SLICE,
    after: async (done) => {
      onProgress(done);
      await yieldToEventLoop();
    },
  });
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

async function sharedInputLayer(refset: ReferenceSet, spec: GraphSpec, settings: BuildSettings, log: Log): Promise<SharedInput> {
  const modelled = withReference(settings.signals);
  const key = cacheKey({
    modelFingerprint: 'none: the raw input',
    dataFingerprint: refset.fingerprint,
    layers: [INPUT_LAYER],
    k: 0,
    // efSearch only matters when searching, so it must not split the shared entry. (It does
    // enter the recall check behind an 'auto' storage, but f16's loss hardly depends on it.)
    hnsw: { ...spec.params, efSearch: 0 },
    extra: { models: modelled.map((s) => s.name), scoring: SCORING_VERSION, engine: spec.engine, storage: spec.storage },
  });
  // '_shared' cannot be a model name, so it never collides with a model's own folder.
  const prefix = `${refset.manifest.name}-input-`;
  const dir = join(settings.cacheDir, '_shared', `${prefix}${key}`);
  const asEntry = (built: LayerArtifacts): CacheEntry => ({
    indexes: [built.index],
    graphs: [built.graph],
    models: Object.fromEntries(modelled.map((s) => [s.name, [built.models[s.name]]])),
    referenceLabels: refset.train.labels,
  });
  const save = async (built: LayerArtifacts) => {
    await writeCacheEntry(dir, key, [INPUT_LAYER], asEntry(built), settings.signals);
    await pruneOtherEntries(dir, prefix);
  };
  const cached = await readCacheEntry(dir, key, spec, [INPUT_LAYER], settings.signals);
  if (cached.entry) {
    log.info({ cache: dir }, 'reusing the shared input-layer graph and reference models');
    const models = Object.fromEntries(modelled.map((s) => [s.name, cached.entry?.models[s.name][0]]));
    // As a fresh fit is, so the calibration's first slice does not do it in one piece.
    for (const signal of modelled) await signal.reference.prepare?.(models[signal.name]);
    return { cached: { index: cached.entry.indexes[0], graph: cached.entry.graphs[0], models }, save };
  }
  if (cached.miss) log.warn({ cache: dir, reason: cached.miss.reason }, 'shared input-layer entry unusable, rebuilding it');
  return { save };
}

/**
 * usearch inserts on every core, so its graphs go up one at a time, each on all of them; hnswlib
 * inserts on one, so its graphs go up side by side, one per core.
 */
function graphsAtOnce(specs: readonly GraphSpec[], cores: number): number {
  return specs.every((s) => s.engine === 'usearch') ? 1 : cores;
}

/** Embeds the reference and calibration data, builds every layer's graph and models, and calibrates. */
export async function buildEntry(
  embedder: EmbeddingModel,
  refset: ReferenceSet,
  layers: string[],
  layerGraphs: GraphSpec[],
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
  const builder = settings.buildThreads > 0 ? new GraphBuilder(graphsAtOnce(layerGraphs, settings.buildThreads), settings.cacheDir) : undefined;
  const inputAt = layers.indexOf(INPUT_LAYER);
  const shared = inputAt >= 0 ? await sharedInputLayer(refset, layerGraphs[inputAt], settings, log) : undefined;
  const layerArtifacts = async (l: number): Promise<LayerArtifacts> => {
    if (layers[l] === INPUT_LAYER && shared?.cached) return shared.cached;
    const job = { acts: trainActs[l], calibration: activations[l], spec: layerGraphs[l], name: layers[l] };
    const made = await buildLayer(job, train.labels, classes, settings, log, builder, progress);
    if (layers[l] === INPUT_LAYER) await shared?.save(made);
    return made;
  };
  // Every layer at once, widest first: the graphs queue for the build threads in that order, so
  // the longest one starts at once, and the reference models' fits share this thread meanwhile.
  const byWidth = trainActs.map((_, l) => l).sort((a, b) => trainActs[b].cols - trainActs[a].cols);
  const started = new Map(byWidth.map((l) => [l, layerArtifacts(l)]));
  const built = await Promise.all(trainActs.map((_, l) => started.get(l) as Promise<LayerArtifacts>));
  const indexes = built.map((b) => b.index);
  const graphs = built.map((b) => b.graph);
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
    for (const [name, byLayer] of Object.entries(await measureLayers(signals, models, slice))) {
      byLayer.forEach((values, l) => measured[name][l].set(values, start));
    }
    progress?.('calibrate', start + n, cal.x.rows);
    await yieldToEventLoop();
  }
  const evidence = evidenceFor(neighbors, measured, cal.x.rows, train.labels, classes);
  const calibration = calibrate({ evidence, predicted, labels: cal.labels }, settings.k, classes, settings.labelWeight, signals);
  return { indexes, graphs, referenceLabels: train.labels, models, calibration };
}
