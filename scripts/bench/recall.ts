import { resolve } from 'node:path';
import type { Config } from '../../src/config.js';
import { ExactIndex } from '../../src/neighbors/exact-index.js';
import { HnswIndex, HnswParamsSchema, type HnswParams } from '../../src/neighbors/hnsw-index.js';
import { recallAtK } from '../../src/neighbors/recall.js';
import { selectRows } from '../../src/math/matrix.js';
import { l2NormalizeRows } from '../../src/math/normalize.js';
import { activeBackend, initBackend } from '../../src/model/backend.js';
import { TfjsEmbedder } from '../../src/model/tfjs/tfjs-embedder.js';
import { loadStoredModel } from '../../src/model/model-store.js';
import { loadReferenceSet } from '../../src/reference/load-reference-set.js';
import { progress } from './stats.js';

export interface LayerRecall {
  layer: string;
  dim: number;
  /** The layer's own (the model manifest's ef_search) or the server's. */
  efSearch: number;
  points: number;
  queries: number;
  buildMs: number;
  recall: number;
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

/**
 * For every indexed layer: the reference set's train part, embedded and L2-normalised exactly as
 * the service does it (load-detector.ts), goes into an HNSW graph with the service's parameters
 * and into the brute-force ExactIndex; the calibration part (never indexed) queries both. Run in
 * this process with no server alive, so the timings do not compete with anything.
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
    progress(`recall: layer ${name} (${ref.rows} x ${ref.cols}): building HNSW`);

    let started = performance.now();
    const efSearch = manifest.ef_search?.[name] ?? params.efSearch;
    const hnsw = HnswIndex.create(ref.cols, ref.rows, { ...params, efSearch });
    hnsw.addAll(refData, ref.rows);
    const buildMs = performance.now() - started;
    const exact = new ExactIndex(ref.cols, ref.rows);
    exact.addAll(refData, ref.rows);

    started = performance.now();
    const approx = hnsw.searchBatch(qData, q.rows, k);
    const hnswMs = performance.now() - started;
    progress(`recall: layer ${name}: exact search`);
    started = performance.now();
    const truth = exact.searchBatch(qData, q.rows, k);
    const exactMs = performance.now() - started;

    layers.push({
      layer: name,
      dim: ref.cols,
      efSearch,
      points: ref.rows,
      queries: q.rows,
      buildMs,
      recall: recallAtK(approx, truth),
      hnswMsPerQuery: hnswMs / q.rows,
      exactMsPerQuery: exactMs / q.rows,
    });
    hnsw.dispose();
    exact.dispose();
  }
  return { model: manifest.name, k, params, backend: activeBackend(), layers };
}
