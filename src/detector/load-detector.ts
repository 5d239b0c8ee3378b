import { join } from 'node:path';
import { fitMahalanobis } from '../baselines/mahalanobis.js';
import type { Config } from '../config.js';
import { HnswIndex, HnswParamsSchema, type HnswParams } from '../index/hnsw-index.js';
import type { NeighborIndex } from '../index/neighbor-index.js';
import type { Log } from '../log.js';
import { l2NormalizeRows } from '../math/normalize.js';
import { activeBackend } from '../model/backend.js';
import { Embedder } from '../model/embedder.js';
import { loadStoredModel } from '../model/model-store.js';
import { cacheKey, pruneOtherEntries, readCacheEntry, writeCacheEntry, type CacheEntry } from '../reference/index-cache.js';
import { loadReferenceSet, type ReferenceSet } from '../reference/load-reference-set.js';
import { calibrate, Calibrator, SIGNALS } from './calibration.js';
import { DeepKnnDetector, argmax } from './deep-knn-detector.js';
import { densityScores, evidenceFor, searchLayers } from './search.js';

export interface DetectorSettings {
  modelsDir: string;
  referenceSetsDir: string;
  cacheDir: string;
  model: string;
  k: number;
  significance: number;
  hnsw: HnswParams;
  /** Share of the significance given to label disagreement (the rest to distance). */
  labelWeight: number;
}

/** The detector's share of the server settings. */
export function detectorSettings(config: Config): DetectorSettings {
  return {
    modelsDir: config.modelsDir,
    referenceSetsDir: config.referenceSetsDir,
    cacheDir: config.cacheDir,
    model: config.model,
    k: config.k,
    significance: config.significance,
    hnsw: HnswParamsSchema.parse({ efSearch: config.efSearch }),
    labelWeight: config.labelWeight,
  };
}

/**
 * Start-up as a straight chain: load the model, load its reference set, then reuse the cached
 * graphs and calibration or build them, then assemble the detector.
 */
export async function loadDetector(settings: DetectorSettings, log: Log): Promise<DeepKnnDetector> {
  const stored = await loadStoredModel(settings.modelsDir, settings.model);
  const { manifest } = stored;
  const embedder = new Embedder(stored.model, manifest);
  const refset = await loadReferenceSet(settings.referenceSetsDir, manifest.reference_set);
  const key = cacheKey({
    modelFingerprint: stored.fingerprint,
    dataFingerprint: refset.fingerprint,
    layers: manifest.layers,
    k: settings.k,
    hnsw: settings.hnsw,
    extra: { labelWeight: settings.labelWeight, signals: SIGNALS, scoring: 3 },
  });
  const entryDir = join(settings.cacheDir, manifest.name, key);
  const cached = await readCacheEntry(entryDir, key, settings.hnsw);
  let entry = cached.entry;
  if (entry) {
    log.info({ cache: entryDir }, 'reusing cached reference graphs and calibration');
  } else {
    if (cached.miss) log.warn({ cache: entryDir, reason: cached.miss.reason }, 'cache entry unusable, rebuilding it');
    const started = performance.now();
    entry = buildEntry(embedder, refset, manifest.layers, settings, log);
    await writeCacheEntry(entryDir, key, manifest.layers, entry);
    const pruned = await pruneOtherEntries(entryDir);
    log.info(
      { cache: entryDir, seconds: +((performance.now() - started) / 1000).toFixed(1), pruned },
      'built and cached reference graphs and calibration',
    );
  }
  return new DeepKnnDetector({
    info: {
      name: manifest.name,
      version: manifest.version,
      input_shape: manifest.input_shape,
      labels: manifest.labels,
      layers: manifest.layers,
      k: settings.k,
      significance: settings.significance,
      reference_size: entry.referenceLabels.length,
      calibration_size: entry.calibration.labelScores.length,
      backend: activeBackend(),
      signals: [...SIGNALS],
    },
    embedder,
    indexes: entry.indexes,
    referenceLabels: entry.referenceLabels,
    densityModels: entry.densityModels,
    calibrator: new Calibrator(entry.calibration),
  });
}

function buildEntry(
  embedder: Embedder,
  refset: ReferenceSet,
  layers: string[],
  settings: DetectorSettings,
  log: Log,
): CacheEntry {
  const train = refset.train;
  const trainActs = embedder.embed(train.x.data as Float32Array, train.x.rows).activations;
  const indexes: NeighborIndex[] = trainActs.map((acts, l) => {
    const started = performance.now();
    const normalized = l2NormalizeRows(acts);
    const index = HnswIndex.create(acts.cols, acts.rows, settings.hnsw);
    index.addAll(normalized.data as Float32Array, normalized.rows);
    log.info({ layer: layers[l], points: acts.rows, dim: acts.cols, seconds: +((performance.now() - started) / 1000).toFixed(1) }, 'built HNSW graph');
    return index;
  });
  const cal = refset.calibration;
  const { probabilities, activations } = embedder.embed(cal.x.data as Float32Array, cal.x.rows);
  const classes = probabilities.cols;
  const predicted = Int32Array.from({ length: cal.x.rows }, (_, i) => argmax(probabilities.data, i * classes, classes));
  const densityModels = trainActs.map((acts, l) => {
    const started = performance.now();
    const model = fitMahalanobis(acts, train.labels, classes);
    log.info({ layer: layers[l], dim: acts.cols, seconds: +((performance.now() - started) / 1000).toFixed(1) }, 'fitted Mahalanobis density');
    return model;
  });
  const neighbors = searchLayers(indexes, activations, settings.k, layers);
  const evidence = evidenceFor(neighbors, densityScores(densityModels, activations), cal.x.rows, train.labels, classes);
  const calibration = calibrate({ evidence, predicted, labels: cal.labels }, settings.k, classes, settings.labelWeight);
  return { indexes, referenceLabels: train.labels, densityModels, calibration };
}
