import type { Config } from './config.js';
import { defaultWorkerThreads, type DetectorSettings } from './detector/load-detector.js';
import { HnswParamsSchema } from './neighbors/hnsw-params.js';

/**
 * The detector's share of the server settings. Here, beside the settings, rather than in
 * detector/, so that the detector never reads the server's configuration.
 */
export function detectorSettings(config: Config): DetectorSettings {
  return {
    modelsDir: config.modelsDir,
    referenceSetsDir: config.referenceSetsDir,
    cacheDir: config.cacheDir,
    model: config.model,
    k: config.k,
    significance: config.significance,
    hnsw: HnswParamsSchema.parse({ efSearch: config.efSearch }),
    neighbors: config.neighbors,
    labelWeight: config.labelWeight,
    scoringThreads: config.scoringThreads ?? defaultWorkerThreads(),
    buildThreads: config.buildThreads ?? defaultWorkerThreads(),
    keepReferences: config.reviewSize > 0,
  };
}
