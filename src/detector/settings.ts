import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { NeighborEngineSchema } from '../neighbors/graph-engine.js';
import { HnswParamsSchema } from '../neighbors/hnsw-params.js';
import { integerSetting, probabilitySetting, setting, type SettingsTree, type ValuesOf } from '../settings.js';
import type { Signal } from './signals/signal.js';

/** One worker thread per core (for scoring, and for building graphs), when there is more than one core. */
export function defaultWorkerThreads(): number {
  const cores = availableParallelism();
  return cores > 1 ? cores : 0;
}

/**
 * The detector's settings, declared here once each, beside the code that uses them. The server's
 * configuration takes them in as they are (`config.ts` spreads this table), so a new detector
 * setting is one entry here and its use: its type, parsing, error message, README row and its
 * way into `DetectorSettings` all follow. The detector itself never reads the environment.
 */
export const DETECTOR_SETTINGS = {
  k: setting('OOD_K', integerSetting(1).default(75), "neighbours per layer (a model manifest's own `k`, set by `add-model --k`, wins)"),
  significance: setting('OOD_SIGNIFICANCE', probabilitySetting.default(0.05), 'flag when the combined p-value is at most this'),
  labelWeight: setting(
    'OOD_LABEL_WEIGHT',
    probabilitySetting.default(0.1),
    'share of the significance spent on label disagreement (the rest is split between distance and density)',
  ),
  efSearch: setting(
    'OOD_HNSW_EF_SEARCH',
    integerSetting(1).default(HnswParamsSchema.parse({}).efSearch),
    "HNSW search breadth (raised to k when smaller; a model manifest's `ef_search` for a layer wins)",
  ),
  neighbors: setting(
    'OOD_NEIGHBORS',
    NeighborEngineSchema.default('usearch'),
    'The library that holds the HNSW graphs: `usearch` (stores f16 where recall holds, builds on every core, memory-maps one copy for every scoring thread) or `hnswlib` (the optional `hnswlib-node`, f32, which compiles at install and needs python3, make and g++)',
  ),
  buildThreads: setting(
    'OOD_BUILD_THREADS',
    // Counted when the settings are read, since the machine decides it.
    integerSetting(1, 256).default(defaultWorkerThreads),
    'threads a cold build uses: with usearch, the native threads each graph is inserted on, one graph at a time; with hnswlib, how many graphs build side by side. Inserts racing on several threads give a slightly different graph each build; 1 gives the same graph every time, more slowly',
    'one per core (on one core: the main thread)',
  ),
  scoringThreads: setting(
    'OOD_SCORING_THREADS',
    integerSetting(0, 256).default(defaultWorkerThreads),
    'worker threads for the neighbour searches and density scores. With usearch they all memory-map one copy of the graphs; with hnswlib each holds its own, so memory grows with the count. 0 scores on the main thread',
    'one per core (0 on one core)',
  ),
  modelsDir: setting('OOD_MODELS_DIR', z.string().default('models'), 'the folder the models are in'),
  referenceSetsDir: setting('OOD_REFERENCE_SETS_DIR', z.string().default('reference-sets'), 'the folder the reference sets are in'),
  cacheDir: setting('OOD_CACHE_DIR', z.string().default('.cache'), 'graphs and calibration'),
} satisfies SettingsTree;

/** What a detector is loaded with: the settings above, parsed, and what differs per model or per caller. */
export type DetectorSettings = ValuesOf<typeof DETECTOR_SETTINGS> & {
  /** The folder under `modelsDir`. */
  model: string;
  /**
   * The name the detector answers to, when not its manifest's: a repository serves a bundle under
   * the name it was loaded by. Its cache entries stay under the manifest's name, keyed by content,
   * so a new version with the same files starts from the same entry; and a build then prunes no
   * other entry, since another version may be serving from it.
   */
  servedAs?: string;
  /** Keep the reference inputs in memory, for the review of flagged inputs. */
  keepReferences: boolean;
  /**
   * The signals to combine; the table's when absent. A scoring thread finds its signals in the
   * table by name, so one that is not in it needs scoringThreads 0.
   */
  signals?: readonly Signal[];
};
