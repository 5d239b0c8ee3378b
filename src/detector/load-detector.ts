import { availableParallelism } from 'node:os';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fitMahalanobisYielding, prepareMahalanobis, type MahalanobisModel } from '../baselines/mahalanobis.js';
import { yieldToEventLoop } from '../event-loop.js';
import { OodError } from '../errors.js';
import { GraphBuilder } from '../neighbors/graph-builder.js';
import { HnswIndex, type HnswParams } from '../neighbors/hnsw-index.js';
import type { NeighborIndex, Neighbors } from '../neighbors/neighbor-index.js';
import type { Log } from '../log.js';
import { l2NormalizeRows } from '../math/normalize.js';
import type { Embedding, EmbeddingModel } from '../model/embedding.js';
import { INPUT_LAYER } from '../model/manifest.js';
import { concatRows, type Matrix } from '../math/matrix.js';
import { loadModel, type LoadedModel } from '../model/model-store.js';
import { cacheKey, pruneOtherEntries, readCacheEntry, writeCacheEntry, type CacheEntry } from './index-cache.js';
import { loadReferenceSet, type ReferenceSet } from '../reference/load-reference-set.js';
import { calibrate, Calibrator, SIGNALS, type CalibrationState } from './calibration.js';
import { DeepKnnDetector, argmax } from './deep-knn-detector.js';
import { InlineLayerScorer, type LayerScorer } from './layer-scorer.js';
import { densityScores, evidenceFor, searchLayers } from './search.js';
import { ThreadedLayerScorer } from './threaded-scorer.js';

export interface DetectorSettings {
  modelsDir: string;
  referenceSetsDir: string;
  cacheDir: string;
  model: string;
  k: number;
  significance: number;
  hnsw: HnswParams;
  /** Share of the significance given to label disagreement (distance and density split the rest). */
  labelWeight: number;
  /** Worker threads for the searches and density scores; 0 scores on the calling thread. */
  scoringThreads: number;
  /** Keep the reference inputs in memory, for the review of flagged inputs. */
  keepReferences: boolean;
  /** Worker threads that build HNSW graphs side by side in a cold build; 0 builds on the calling thread. */
  buildThreads: number;
}

/** One worker thread per core (for scoring, and for building graphs), when there is more than one core. */
export function defaultWorkerThreads(): number {
  const cores = availableParallelism();
  return cores > 1 ? cores : 0;
}

/** Bump when what a cache entry holds is computed differently, so old entries are rebuilt. */
export const SCORING_VERSION = 4;


/**
 * Start-up as a straight chain: load the model, load its reference set, then reuse the cached
 * graphs and calibration or build them, then assemble the detector.
 */
/** Called as a cold build goes, for a progress bar: `stage` names the step, done of total rows. */
export type BuildProgress = (stage: string, done: number, total: number) => void;

export async function loadDetector(settings: DetectorSettings, log: Log, progress?: BuildProgress): Promise<DeepKnnDetector> {
  const stored = await loadModel(settings.modelsDir, settings.model);
  try {
    return await assemble(stored, settings, log, progress);
  } catch (err) {
    // The weights live outside the JS heap: a failed start must not strand them.
    stored.model.dispose();
    throw err;
  }
}

async function assemble(stored: LoadedModel, serverSettings: DetectorSettings, log: Log, progress?: BuildProgress): Promise<DeepKnnDetector> {
  const { manifest, model: embedder } = stored;
  // A model's own k (set when it was onboarded) wins over the server's default.
  const settings = { ...serverSettings, k: manifest.k ?? serverSettings.k };
  const refset = await loadReferenceSet(settings.referenceSetsDir, manifest.reference_set);
  const layerHnsw = manifest.layers.map((layer) => ({ ...settings.hnsw, efSearch: manifest.ef_search?.[layer] ?? settings.hnsw.efSearch }));
  const key = cacheKey({
    modelFingerprint: stored.fingerprint,
    dataFingerprint: refset.fingerprint,
    layers: manifest.layers,
    k: settings.k,
    hnsw: settings.hnsw,
    // The calibration's neighbours depend on each layer's efSearch. Only named when a layer has
    // its own, so the entries of models without one keep their keys.
    extra: {
      labelWeight: settings.labelWeight,
      signals: SIGNALS,
      scoring: SCORING_VERSION,
      ...(manifest.ef_search ? { efSearch: layerHnsw.map((p) => p.efSearch) } : {}),
    },
  });
  // Under models/, so a model's name can never collide with other things kept in the cache.
  const entryDir = join(settings.cacheDir, 'models', manifest.name, key);
  const cached = await readCacheEntry(entryDir, key, layerHnsw, manifest.layers);
  let entry: CacheEntry | undefined = cached.entry?.calibration ? cached.entry : undefined;
  const missReason = cached.entry && !entry ? 'calibration.json is missing' : cached.miss?.reason;
  if (entry) {
    log.info({ cache: entryDir }, 'reusing cached reference graphs and calibration');
  } else {
    if (missReason) log.warn({ cache: entryDir, reason: missReason }, 'cache entry unusable, rebuilding it');
    const started = performance.now();
    entry = await buildEntry(embedder, refset, manifest.layers, layerHnsw, settings, log, progress);
    await writeCacheEntry(entryDir, key, manifest.layers, entry);
    const pruned = await pruneOtherEntries(entryDir);
    log.info(
      { cache: entryDir, seconds: +((performance.now() - started) / 1000).toFixed(1), pruned },
      'built and cached reference graphs and calibration',
    );
  }
  const calibration = entry.calibration as CalibrationState;
  // The smallest p-value conformal calibration can give; below it nothing would ever be flagged.
  const floor = 1 / (calibration.held.combined.length + 1);
  if (settings.significance < floor) {
    throw new OodError(
      'CONFIG_INVALID',
      `significance ${settings.significance} is below ${floor.toPrecision(3)}, the smallest p-value ` +
        `${calibration.held.combined.length} held-out calibration points can give: no input could ever be flagged`,
    );
  }
  const layers = { classes: manifest.labels.length, k: settings.k, layerNames: manifest.layers };
  const inline = new InlineLayerScorer({ indexes: entry.indexes, densityModels: entry.densityModels, referenceLabels: entry.referenceLabels, ...layers });
  let scorer: LayerScorer = inline;
  if (settings.scoringThreads > 0) {
    scorer = await ThreadedLayerScorer.start({ entryDir, key, hnsw: layerHnsw, ...layers }, settings.scoringThreads, (err) =>
      log.error({ err }, 'a scoring thread failed'),
    );
    // Every thread holds its own copy now; this thread's would only take memory.
    inline.dispose();
  } else {
    for (const model of entry.densityModels) await prepareMahalanobis(model);
  }
  return new DeepKnnDetector({
    info: {
      name: manifest.name,
      version: manifest.version,
      input_shape: manifest.input_shape,
      input_name: embedder.inputName,
      labels: manifest.labels,
      layers: manifest.layers,
      k: settings.k,
      significance: settings.significance,
      reference_size: entry.referenceLabels.length,
      calibration_size: calibration.labelScores.length,
      backend: embedder.backend,
      signals: [...SIGNALS],
      ...(manifest.preprocessing ? { preprocessing: manifest.preprocessing } : {}),
    },
    embedder,
    scorer,
    parallelism: Math.max(1, settings.scoringThreads),
    calibrator: new Calibrator(calibration),
    ...(settings.keepReferences ? { references: { x: refset.train.x, labels: refset.train.labels } } : {}),
  });
}

interface LayerArtifacts {
  index: NeighborIndex;
  density: MahalanobisModel;
}

/**
 * Rows per slice of synchronous work between pauses for the event loop during a build: about
 * a tenth of a second each on the default model, so health checks keep being answered.
 */
const ROWS_PER_SLICE = 500;
/** The covariance costs dim^2 per row, so wide layers get fewer rows per slice. */
const densityRowsPerSlice = (dim: number) => Math.max(50, Math.floor(5e7 / (dim * dim)));

async function buildLayer(
  acts: Matrix,
  labels: Int32Array,
  classes: number,
  hnsw: HnswParams,
  name: string,
  log: Log,
  builder: GraphBuilder | undefined,
  progress?: BuildProgress,
): Promise<LayerArtifacts> {
  const normalized = l2NormalizeRows(acts);
  const vectors = normalized.data as Float32Array;
  const graphStarted = performance.now();
  const seconds = (since: number) => +((performance.now() - since) / 1000).toFixed(1);
  const onProgress = (done: number) => progress?.(`graph ${name}`, done, acts.rows);
  // On a thread the graph goes up while this thread fits the density (and other layers' graphs
  // go up on the other threads).
  const graph = (builder ? builder.build(vectors, acts.rows, acts.cols, hnsw, onProgress) : buildGraphHere(vectors, acts.rows, acts.cols, hnsw, onProgress)).then(
    (index) => {
      log.info({ layer: name, points: acts.rows, dim: acts.cols, seconds: seconds(graphStarted) }, 'built HNSW graph');
      return index;
    },
  );
  // Settled now too, so a density fit that throws first never leaves it unhandled.
  graph.catch(() => {});
  const densityStarted = performance.now();
  const density = await fitMahalanobisYielding(acts, labels, classes, {}, densityRowsPerSlice(acts.cols));
  // Now, in slices: the calibration's scoring would otherwise compute it in one piece.
  await prepareMahalanobis(density);
  log.info({ layer: name, dim: acts.cols, seconds: seconds(densityStarted) }, 'fitted Mahalanobis density');
  return { index: await graph, density };
}

/** The graph on this thread, pausing for the event loop between slices of rows. */
async function buildGraphHere(vectors: Float32Array, rows: number, dim: number, hnsw: HnswParams, onProgress: (done: number) => void): Promise<HnswIndex> {
  const index = HnswIndex.create(dim, rows, hnsw);
  for (let start = 0; start < rows; start += ROWS_PER_SLICE) {
    const n = Math.min(ROWS_PER_SLICE, rows - start);
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
    parts.push(await embedder.embed(x.data.subarray(start * x.cols, (start + n) * x.cols) as Float32Array, n));
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
 * The raw input's graph and density depend on the data alone, not on the model, so every model
 * trained on a reference set shares one copy under `<cacheDir>/_shared/`: a second model (or a
 * retrained one) skips the most expensive layer to build.
 */
interface SharedInput {
  /** The cached graph and density, when the shared entry was usable. */
  cached?: LayerArtifacts;
  /** Stores a freshly built input layer as the shared entry. */
  save(built: LayerArtifacts): Promise<void>;
}

async function sharedInputLayer(refset: ReferenceSet, hnsw: HnswParams, settings: DetectorSettings, log: Log): Promise<SharedInput> {
  const key = cacheKey({
    modelFingerprint: 'none: the raw input',
    dataFingerprint: refset.fingerprint,
    layers: [INPUT_LAYER],
    k: 0,
    // efSearch only matters when searching, so it must not split the shared entry.
    hnsw: { ...hnsw, efSearch: 0 },
    extra: { density: 'mahalanobis-tied', scoring: SCORING_VERSION },
  });
  // '_shared' cannot be a model name, so it never collides with a model's own folder.
  const prefix = `${refset.manifest.name}-input-`;
  const dir = join(settings.cacheDir, '_shared', `${prefix}${key}`);
  const save = async (built: LayerArtifacts) => {
    await writeCacheEntry(dir, key, [INPUT_LAYER], { indexes: [built.index], densityModels: [built.density], referenceLabels: refset.train.labels });
    await pruneOtherEntries(dir, prefix);
  };
  const cached = await readCacheEntry(dir, key, hnsw, [INPUT_LAYER]);
  if (cached.entry) {
    log.info({ cache: dir }, 'reusing the shared input-layer graph and density');
    return { cached: { index: cached.entry.indexes[0], density: cached.entry.densityModels[0] }, save };
  }
  if (cached.miss) log.warn({ cache: dir, reason: cached.miss.reason }, 'shared input-layer entry unusable, rebuilding it');
  return { save };
}

async function buildEntry(
  embedder: EmbeddingModel,
  refset: ReferenceSet,
  layers: string[],
  layerHnsw: HnswParams[],
  settings: DetectorSettings,
  log: Log,
  progress?: BuildProgress,
): Promise<CacheEntry> {
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
    const made = await buildLayer(trainActs[l], train.labels, classes, layerHnsw[l], layers[l], log, builder, progress);
    if (layers[l] === INPUT_LAYER) await shared?.save(made);
    return made;
  };
  // Every layer at once, widest first: the graphs queue for the build threads in that order, so
  // the longest one starts at once, and the density fits share this thread meanwhile.
  const byWidth = trainActs.map((_, l) => l).sort((a, b) => trainActs[b].cols - trainActs[a].cols);
  const started = new Map(byWidth.map((l) => [l, layerArtifacts(l)]));
  const built = await Promise.all(trainActs.map((_, l) => started.get(l) as Promise<LayerArtifacts>));
  const indexes = built.map((b) => b.index);
  const densityModels = built.map((b) => b.density);
  const predicted = Int32Array.from({ length: cal.x.rows }, (_, i) => argmax(probabilities.data, i * classes, classes));
  const neighbors: Neighbors[][] = layers.map(() => []);
  const densities = layers.map(() => new Float64Array(cal.x.rows));
  // Searches and density scores both cost about a second on the raw input, so they go in slices.
  for (let start = 0; start < cal.x.rows; start += ROWS_PER_SLICE) {
    const n = Math.min(ROWS_PER_SLICE, cal.x.rows - start);
    const slice = activations.map((m) => ({ data: m.data.subarray(start * m.cols, (start + n) * m.cols), rows: n, cols: m.cols }));
    searchLayers(indexes, slice, settings.k, layers).forEach((found, l) => neighbors[l].push(...found));
    await yieldToEventLoop();
    densityScores(densityModels, slice).forEach((scores, l) => densities[l].set(scores, start));
    progress?.('calibrate', start + n, cal.x.rows);
    await yieldToEventLoop();
  }
  const evidence = evidenceFor(neighbors, densities, cal.x.rows, train.labels, classes);
  const calibration = calibrate({ evidence, predicted, labels: cal.labels }, settings.k, classes, settings.labelWeight);
  return { indexes, referenceLabels: train.labels, densityModels, calibration };
}
