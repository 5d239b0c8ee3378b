import { resolve } from 'node:path';
import type { Config } from '../../src/config.js';
import { ExactIndex } from '../../src/neighbors/exact-index.js';
import { MIN_RECALL } from '../../src/neighbors/graph-build.js';
import { createGraph, hnswlibAvailable, type NeighborEngine } from '../../src/neighbors/graph-engine.js';
import { HnswParamsSchema, type HnswParams } from '../../src/neighbors/hnsw-params.js';
import { recallAtK } from '../../src/neighbors/recall.js';
import type { Storage } from '../../src/neighbors/storage.js';
import { selectRows } from '../../src/math/matrix.js';
import { l2NormalizeRows } from '../../src/math/normalize.js';
import { activeBackend, initBackend } from '../../src/model/backend.js';
import { TfjsEmbedder } from '../../src/model/tfjs/tfjs-embedder.js';
import { loadStoredModel } from '../../src/model/model-store.js';
import { loadReferenceSet } from '../../src/reference/load-reference-set.js';
import { progress } from './stats.js';

export interface LayerRecall {
  layer: string;
  engine: NeighborEngine;
  storage: Storage;
  /** Whether the service, with storage 'auto', would keep this storage for this layer. */
  chosen: boolean;
  dim: number;
  /** The layer's own (the model manifest's ef_search) or the server's. */
  efSearch: number;
  points: number;
  queries: number;
  buildMs: number;
  recall: number;
  /** The whole query set in one searchBatch call, on one thread, per query. */
  hnswMsPerQuery: number;
  exactMsPerQuery: number;
}

export interface RecallResult {
  model: string;
  k: number;
  params: HnswParams;
  backend: string;
  layers: LayerRecall[];
}

/** What each layer is measured on: the default engine's storages, and hnswlib when it is installed. */
async function variants(): Promise<{ engine: NeighborEngine; storage: Storage }[]> {
  const usearch = (['f16', 'f32', 'i8'] as const).map((storage) => ({ engine: 'usearch' as const, storage }));
  return (await hnswlibAvailable()) ? [...usearch, { engine: 'hnswlib', storage: 'f32' }] : usearch;
}

/**
 * For every indexed layer: the reference set's train part, embedded and L2-normalised exactly as
 * the service does it (load-detector.ts), goes into a graph of each engine and storage with the
 * service's parameters, and into the brute-force ExactIndex; the calibration part (never
 * indexed) queries them all. usearch builds on every core, as the service does; hnswlib builds
 * on one, as it can. Run in this process with no server alive, so the timings do not compete
 * with anything.
 */
export async function measureRecall(opts: { root: string; config: Config; maxQueries?: number }): Promise<RecallResult> {
  const { config } = opts;
  await initBackend(config.backend);
  const stored = await loadStoredModel(resolve(opts.root, config.modelsDir), config.model);
  const { manifest } = stored;
  const refset = await loadReferenceSet(resolve(opts.root, config.referenceSetsDir), manifest.reference_set);
  const embedder = new TfjsEmbedder(stored.model, manifest);
  // The service's parameters: HnswParamsSchema defaults plus OOD_HNSW_EF_SEARCH (100), and the
  // model's own k and per-layer efSearch, as load-detector.ts takes them.
  const params = HnswParamsSchema.parse({ efSearch: config.efSearch });
  const k = manifest.k ?? config.k;

  const train = refset.train.x;
  let queries = refset.calibration.x;
  if (opts.maxQueries !== undefined && opts.maxQueries < queries.rows) {
    queries = selectRows(queries, Array.from({ length: opts.maxQueries }, (_, i) => i));
  }
  progress(`recall: embedding ${train.rows} reference and ${queries.rows} query rows`);
  const trainActs = embedder.embed(train.data as Float32Array, train.rows).activations;
  const queryActs = embedder.embed(queries.data as Float32Array, queries.rows).activations;

  const layers: LayerRecall[] = [];
  for (let l = 0; l < manifest.layers.length; l++) {
    const name = manifest.layers[l];
    const ref = l2NormalizeRows(trainActs[l]);
    const q = l2NormalizeRows(queryActs[l]);
    const refData = ref.data as Float32Array;
    const qData = q.data as Float32Array;
    const efSearch = manifest.ef_search?.[name] ?? params.efSearch;
    const exact = new ExactIndex(ref.cols, ref.rows);
    exact.addAll(refData, ref.rows);
    progress(`recall: layer ${name} (${ref.rows} x ${ref.cols}): exact search`);
    let started = performance.now();
    const truth = exact.searchBatch(qData, q.rows, k);
    const exactMs = performance.now() - started;
    exact.dispose();
    const measured: LayerRecall[] = [];
    for (const { engine, storage } of await variants()) {
      progress(`recall: layer ${name}: building ${engine} ${storage}`);
      started = performance.now();
      const graph = await createGraph(engine, storage, ref.cols, ref.rows, { ...params, efSearch });
      graph.addAll(refData, ref.rows);
      const buildMs = performance.now() - started;
      started = performance.now();
      const approx = graph.searchBatch(qData, q.rows, k);
      const hnswMs = performance.now() - started;
      graph.dispose();
      const recall = recallAtK(approx, truth);
      measured.push({ layer: name, engine, storage, chosen: false, dim: ref.cols, efSearch, points: ref.rows, queries: q.rows, buildMs, recall, hnswMsPerQuery: hnswMs / q.rows, exactMsPerQuery: exactMs / q.rows });
    }
    // As graph-build.ts decides 'auto': f16 where it keeps the recall, else f32.
    const f16 = measured.find((m) => m.engine === 'usearch' && m.storage === 'f16');
    const keep = f16 && f16.recall >= MIN_RECALL ? 'f16' : 'f32';
    for (const m of measured) m.chosen = m.engine === 'usearch' && m.storage === keep;
    layers.push(...measured);
  }
  return { model: manifest.name, k, params, backend: activeBackend(), layers };
}
