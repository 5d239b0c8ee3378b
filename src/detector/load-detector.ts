import { join } from 'node:path';
import { OodError } from '../errors.js';
import { assertStorageFits, type GraphSpec } from '../neighbors/graph-engine.js';
import { HnswParamsSchema, type HnswParams } from '../neighbors/hnsw-params.js';
import type { Log } from '../log.js';
import { loadModel, type LoadedModel } from '../model/model-store.js';
import { runtimeNameOf } from '../model/runtimes.js';
import { loadReferenceSet } from '../reference/load-reference-set.js';
import { perInputNames } from '../reference/sources/npy.js';
import { buildEntry, SCORING_VERSION, type BuildProgress } from './build-entry.js';
import { cacheKey, pruneOtherEntries, readCacheEntry, writeCacheEntry, type CacheEntry } from './index-cache.js';
import { Calibrator, type CalibrationState } from './calibration.js';
import { DeepKnnDetector } from './deep-knn-detector.js';
import type { ModelInfo } from './types.js';
import { InlineLayerScorer, type LayerScorer } from './layer-scorer.js';
import { assertSignalNames, prepareModels, releaseModels, type Signal } from './signals/signal.js';
import { SIGNALS } from './signals/table.js';
import type { DetectorSettings } from './settings.js';
import { ThreadedLayerScorer } from './threaded-scorer.js';
import { IdleInlineScorer } from './idle-inline-scorer.js';

export type { DetectorSettings } from './settings.js';

/**
 * Start-up as a straight chain: load the model, load its reference set, then reuse the cached
 * graphs and calibration or build them, then assemble the detector.
 */
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

type Settings = DetectorSettings & { signals: readonly Signal[]; hnsw: HnswParams };
type ReferenceSet = Awaited<ReturnType<typeof loadReferenceSet>>;

/** The steps of a start: the reference set, the cache entry (read or built), the scorer, the detector. */
async function assemble(stored: LoadedModel, serverSettings: DetectorSettings, log: Log, progress?: BuildProgress): Promise<DeepKnnDetector> {
  const { manifest, model: embedder, text } = stored;
  // A model's own k (set when it was onboarded) wins over the server's default.
  const settings: Settings = {
    ...serverSettings,
    k: manifest.k ?? serverSettings.k,
    signals: serverSettings.signals ?? SIGNALS,
    hnsw: HnswParamsSchema.parse({ efSearch: serverSettings.efSearch }),
  };
  assertSignalNames(settings.signals);
  const refset = await loadReferenceSet(settings.referenceSetsDir, manifest.reference_set, { text });
  checkPackedInputs(stored, refset);
  const layerGraphs = graphSpecs(manifest, settings);
  const key = entryKey(stored, refset, settings, layerGraphs);
  // Under models/, so a model's name can never collide with other things kept in the cache.
  const entryDir = join(settings.cacheDir, 'models', manifest.name, key);
  const entry = await cachedOrBuiltEntry({ stored, refset, settings, layerGraphs, entryDir, key }, log, progress);
  // The graphs live outside the JS heap, as do the threads' copies: a start that fails from here
  // on frees them before it reports why.
  let scorer: LayerScorer | undefined;
  try {
    const calibration = entry.calibration as CalibrationState;
    checkSignificance(settings.significance, calibration);
    const calibrator = new Calibrator(calibration, settings.signals, manifest.layers.length);
    scorer = await startScorer(entry, { settings, layerGraphs, entryDir, key, classes: manifest.labels.length, layerNames: manifest.layers }, log);
    return new DeepKnnDetector({
      info: modelInfo(stored, settings, entry, calibration),
      embedder,
      ...(text ? { text } : {}),
      scorer,
      parallelism: Math.max(1, settings.scoringThreads),
      calibrator,
      ...(settings.keepReferences ? { references: { x: refset.train.x, labels: refset.train.labels } } : {}),
    });
  } catch (err) {
    if (scorer) scorer.dispose();
    else await freeEntry(entry, settings.signals);
    throw err;
  }
}

/** A reference set packed from several inputs must pack them as the model takes them. */
function checkPackedInputs({ manifest, model }: LoadedModel, refset: ReferenceSet): void {
  const packed = perInputNames(refset.manifest.source);
  const takes = model.inputs.map((i) => i.name);
  if (packed && packed.join('\0') !== takes.join('\0')) {
    throw new OodError(
      'CONFIG_INVALID',
      `reference set ${manifest.reference_set} packs its rows from the inputs ${packed.join(', ')}; model ${manifest.name} takes ${takes.join(', ')}, in that order`,
    );
  }
}

/** Each layer's graph: the engine, its storage (the manifest's, or auto) and its efSearch. */
function graphSpecs(manifest: LoadedModel['manifest'], settings: Settings): GraphSpec[] {
  return manifest.layers.map((layer) => {
    const storage = manifest.storage?.[layer] ?? 'auto';
    assertStorageFits(settings.neighbors, storage, `model ${manifest.name}'s layer ${layer}`);
    return { engine: settings.neighbors, storage, params: { ...settings.hnsw, efSearch: manifest.ef_search?.[layer] ?? settings.hnsw.efSearch } };
  });
}

/** The cache key: everything the graphs and the calibration depend on. */
function entryKey(stored: LoadedModel, refset: ReferenceSet, settings: Settings, layerGraphs: GraphSpec[]): string {
  const { manifest } = stored;
  return cacheKey({
    modelFingerprint: stored.fingerprint,
    dataFingerprint: refset.fingerprint,
    layers: manifest.layers,
    k: settings.k,
    hnsw: settings.hnsw,
    // The calibration's neighbours depend on each layer's efSearch. Only named when a layer has
    // its own, so the entries of models without one keep their keys.
    extra: {
      labelWeight: settings.labelWeight,
      signals: settings.signals.map((s) => s.name),
      scoring: SCORING_VERSION,
      engine: settings.neighbors,
      storage: layerGraphs.map((g) => g.storage),
      ...(manifest.ef_search ? { efSearch: layerGraphs.map((g) => g.params.efSearch) } : {}),
    },
  });
}

interface EntryPlace {
  stored: LoadedModel;
  refset: ReferenceSet;
  settings: Settings;
  layerGraphs: GraphSpec[];
  entryDir: string;
  key: string;
}

/** The cache entry with its calibration: read when it is there and sound, else built, written and read back. */
async function cachedOrBuiltEntry(place: EntryPlace, log: Log, progress?: BuildProgress): Promise<CacheEntry> {
  const { stored, refset, settings, layerGraphs, entryDir, key } = place;
  const { layers } = stored.manifest;
  // Mapped, so the main thread's graphs are the same pages as the scoring threads' (usearch).
  const cached = await readCacheEntry(entryDir, key, layerGraphs, layers, settings.signals, { map: true });
  if (cached.entry?.calibration) {
    log.info({ cache: entryDir }, 'reusing cached reference graphs and calibration');
    return cached.entry;
  }
  const missReason = cached.entry ? 'calibration.json is missing' : cached.miss?.reason;
  if (missReason) log.warn({ cache: entryDir, reason: missReason }, 'cache entry unusable, rebuilding it');
  const started = performance.now();
  const built = await buildEntry(stored.model, refset, layers, layerGraphs, settings, log, progress);
  let pruned: string[];
  try {
    await writeCacheEntry(entryDir, key, layers, built, settings.signals);
    // A repository may serve two versions of one model side by side, each from its own entry:
    // neither may prune the other's.
    pruned = settings.servedAs === undefined ? await pruneOtherEntries(entryDir) : [];
  } catch (err) {
    await freeEntry(built, settings.signals);
    throw err;
  }
  const entry = await readBack(entryDir, key, layerGraphs, layers, settings.signals, built);
  log.info({ cache: entryDir, seconds: +((performance.now() - started) / 1000).toFixed(1), pruned }, 'built and cached reference graphs and calibration');
  return entry;
}

/** The smallest p-value conformal calibration can give; a significance below it would never flag anything. */
function checkSignificance(significance: number, calibration: CalibrationState): void {
  const floor = 1 / (calibration.combined.length + 1);
  if (significance < floor) {
    throw new OodError(
      'CONFIG_INVALID',
      `significance ${significance} is below ${floor.toPrecision(3)}, the smallest p-value ` +
        `${calibration.combined.length} held-out calibration points can give: no input could ever be flagged`,
    );
  }
}

interface ScorerPlan {
  settings: Settings;
  layerGraphs: GraphSpec[];
  entryDir: string;
  key: string;
  classes: number;
  layerNames: string[];
}

/** Scores on this thread, on worker threads, or on this thread while the workers are idle (usearch, mapped graphs). */
async function startScorer(entry: CacheEntry, plan: ScorerPlan, log: Log): Promise<LayerScorer> {
  const { settings, layerGraphs, entryDir, key, classes, layerNames } = plan;
  const { signals } = settings;
  const layers = { classes, k: settings.k, layerNames };
  const inline = new InlineLayerScorer({ indexes: entry.indexes, signals, models: entry.models, referenceLabels: entry.referenceLabels, ...layers });
  if (settings.scoringThreads === 0 || settings.neighbors === 'usearch') await prepareModels(signals, entry.models);
  if (settings.scoringThreads === 0) return inline;
  const names = signals.map((s) => s.name);
  // Should the threads fail to start, the caller frees the entry, whose graphs the inline scorer holds.
  const threaded = await ThreadedLayerScorer.start({ entryDir, key, graphs: layerGraphs, signals: names, ...layers }, settings.scoringThreads, (err) =>
    log.error({ err }, 'a scoring thread failed'),
  );
  if (settings.neighbors === 'usearch') return new IdleInlineScorer(inline, threaded);
  // hnswlib cannot map a graph: every thread holds its own copy, and this thread's would only take memory.
  inline.dispose();
  return threaded;
}

/** What the detector says about itself (GET /models/NAME, the metrics). */
function modelInfo(stored: LoadedModel, settings: Settings, entry: CacheEntry, calibration: CalibrationState): ModelInfo {
  const { manifest, model: embedder } = stored;
  return {
    name: settings.servedAs ?? manifest.name,
    version: manifest.version,
    input_shape: manifest.input_shape,
    input_name: embedder.inputs[0].name,
    inputs: embedder.inputs.map((i) => ({ ...i, shape: [...i.shape] })),
    labels: manifest.labels,
    layers: manifest.layers,
    k: settings.k,
    significance: settings.significance,
    reference_size: entry.referenceLabels.length,
    calibration_size: calibration.labelScores.length,
    runtime: runtimeNameOf(manifest),
    backend: embedder.backend,
    signals: settings.signals.map((s) => s.name),
    ...(manifest.preprocessing ? { preprocessing: manifest.preprocessing } : {}),
    ...(manifest.text ? { text: { max_length: manifest.text.max_length, max_chars: manifest.text.max_chars } } : {}),
  };
}

/**
 * Frees what an entry holds outside the JS heap (its graphs, its reference models' kernels) when
 * nothing will score with it. A kernel that fails to free is only a leak: it must not hide the
 * error that brought the caller here.
 */
async function freeEntry(entry: CacheEntry, signals: readonly Signal[]): Promise<void> {
  entry.indexes.forEach((index) => index.dispose());
  await releaseModels(signals, entry.models).catch(() => undefined);
}

/** A pause before reading back once more: another replica may be renaming the same entry into place. */
const READ_BACK_RETRY_MS = 500;

/**
 * The entry just written, read back the way a warm start reads it: memory-mapped, so serving
 * uses the same pages as the scoring threads (the graphs built in this process's memory are
 * released when the garbage collector next runs: usearch has no explicit free), and checked,
 * so a write that went wrong fails now. A replica sharing the cache that writes the same key
 * at the same moment replaces the folder (writeCacheEntry), so one failed read is retried.
 */
async function readBack(entryDir: string, key: string, graphs: GraphSpec[], layers: string[], signals: readonly Signal[], built: CacheEntry): Promise<CacheEntry> {
  await freeEntry(built, signals);
  let reread = await readCacheEntry(entryDir, key, graphs, layers, signals, { map: true });
  if (!reread.entry?.calibration) {
    reread.entry?.indexes.forEach((index) => index.dispose());
    await new Promise((resolve) => setTimeout(resolve, READ_BACK_RETRY_MS));
    reread = await readCacheEntry(entryDir, key, graphs, layers, signals, { map: true });
  }
  if (!reread.entry?.calibration) {
    reread.entry?.indexes.forEach((index) => index.dispose());
    throw new OodError('CACHE_INVALID', `the cache entry just written to ${entryDir} cannot be read back: ${reread.miss?.reason ?? 'calibration.json is missing'}`);
  }
  return reread.entry;
}
