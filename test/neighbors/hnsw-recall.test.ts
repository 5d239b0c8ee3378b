import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { it } from 'node:test';
import { ExactIndex } from '../../src/neighbors/exact-index.js';
import { createGraph, hnswlibAvailable, type NeighborEngine } from '../../src/neighbors/graph-engine.js';
import { HnswParamsSchema } from '../../src/neighbors/hnsw-params.js';
import { recallAtK } from '../../src/neighbors/recall.js';
import type { Storage } from '../../src/neighbors/storage.js';
import { createRng, gaussian } from '../../src/math/random.js';

function randomVectors(rows: number, dim: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < out.length; i++) out[i] = gaussian(rng);
  return out;
}

const hnswlib = await hnswlibAvailable();
const cases: [NeighborEngine, Storage][] = [
  ['usearch', 'f32'],
  ['usearch', 'f16'],
  ['hnswlib', 'f32'],
];

for (const [engine, storage] of cases) {
  const skip = engine === 'hnswlib' && !hnswlib ? 'hnswlib-node is not installed' : undefined;
  it(`${engine} ${storage} with default parameters finds at least 95% of the true 10 nearest neighbours`, { skip }, async (t) => {
    const dim = 32;
    const points = 3000;
    const queryRows = 300;
    const k = 10;
    const vectors = randomVectors(points, dim, 2024);
    const queries = randomVectors(queryRows, dim, 2025);

    const exact = new ExactIndex(dim);
    exact.addAll(vectors, points);
    let start = performance.now();
    const truth = exact.searchBatch(queries, queryRows, k);
    const exactMs = performance.now() - start;

    start = performance.now();
    const graph = await createGraph(engine, storage, dim, points, HnswParamsSchema.parse({}));
    graph.addAll(vectors, points);
    const buildMs = performance.now() - start;
    start = performance.now();
    const approx = graph.searchBatch(queries, queryRows, k);
    const searchMs = performance.now() - start;

    const recall = recallAtK(approx, truth);
    t.diagnostic(
      `recall@${k}=${recall.toFixed(4)}; exact search ${exactMs.toFixed(0)} ms, ` +
        `graph build ${buildMs.toFixed(0)} ms, graph search ${searchMs.toFixed(0)} ms for ${queryRows} queries`,
    );
    assert.ok(recall >= 0.95, `recall@${k} = ${recall}`);
    graph.dispose();
    exact.dispose();
  });
}
