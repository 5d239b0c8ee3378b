import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildGraph, exactNeighbors, MIN_RECALL, type GraphBuildJob } from '../../src/neighbors/graph-build.js';
import { GraphBuilder } from '../../src/neighbors/graph-builder.js';
import { ExactIndex } from '../../src/neighbors/exact-index.js';
import { hnswlibAvailable } from '../../src/neighbors/graph-engine.js';
import { HnswParamsSchema } from '../../src/neighbors/hnsw-params.js';
import { createRng, gaussian } from '../../src/math/random.js';
import { l2NormalizeRows } from '../../src/math/normalize.js';

// hnswlib-node is optional: it compiles at install time, so a machine without a compiler lacks it.
const hnswlibSkip = (await hnswlibAvailable()) ? undefined : 'hnswlib-node is not installed';
const DIM = 16;
const ROWS = 3000;
const params = HnswParamsSchema.parse({ M: 8, efConstruction: 64, efSearch: 64, seed: 5 });

function points(rows: number, seed: number, dim = DIM): Float32Array {
  const rng = createRng(seed);
  return l2NormalizeRows({ data: Float32Array.from({ length: rows * dim }, () => gaussian(rng)), rows, cols: dim }).data as Float32Array;
}

/**
 * Points that differ only below f16's resolution: one direction, plus a perturbation of 1e-5
 * per coordinate. f32 tells them apart; f16 rounds most of them onto each other.
 */
function nearlyEqualPoints(rows: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const base = Float32Array.from({ length: DIM }, () => gaussian(rng));
  const out = new Float32Array(rows * DIM);
  for (let i = 0; i < rows; i++) for (let d = 0; d < DIM; d++) out[i * DIM + d] = base[d] + 1e-5 * gaussian(rng);
  return l2NormalizeRows({ data: out, rows, cols: DIM }).data as Float32Array;
}

const job = (vectors: Float32Array, probeRows: Float32Array, storage: GraphBuildJob['spec']['storage']): GraphBuildJob => ({
  vectors,
  rows: vectors.length / DIM,
  dim: DIM,
  spec: { engine: 'usearch', storage, params },
  probe: { data: probeRows, rows: probeRows.length / DIM, k: 10 },
  buildThreads: 1,
});

describe('exactNeighbors', () => {
  it("agrees with ExactIndex, the project's oracle", () => {
    const vectors = points(500, 1);
    const queries = points(20, 2);
    const oracle = new ExactIndex(DIM);
    oracle.addAll(vectors, 500);
    const expected = oracle.searchBatch(queries, 20, 10);
    const found = exactNeighbors(vectors, 500, DIM, { data: queries, rows: 20, k: 10 });
    found.forEach((f, q) => {
      assert.deepEqual(Array.from(f.ids), Array.from(expected[q].ids), `query ${q}`);
      f.distances.forEach((d, j) => assert.ok(Math.abs(d - expected[q].distances[j]) < 1e-5));
    });
  });
});

describe('buildGraph', () => {
  it('keeps f16 when its recall holds, and says what it measured', async () => {
    // The service's default graph parameters, where the graph itself keeps the recall.
    const wellConnected = { ...job(points(ROWS, 3), points(100, 4), 'auto'), spec: { engine: 'usearch' as const, storage: 'auto' as const, params: HnswParamsSchema.parse({}) } };
    const { index, outcome } = await buildGraph(wellConnected, { chunkRows: 1000 });
    assert.equal(outcome.storage, 'f16');
    assert.ok((outcome.recall ?? 0) >= MIN_RECALL, `recall ${outcome.recall}`);
    assert.equal(outcome.rejected, undefined);
    assert.equal(index.size, ROWS);
    index.dispose();
  });

  it('falls back to f32 where f16 loses neighbours, and keeps a fixed storage as asked', async () => {
    const vectors = nearlyEqualPoints(ROWS, 5);
    const probe = nearlyEqualPoints(50, 6);
    const auto = await buildGraph(job(vectors, probe, 'auto'), { chunkRows: 1000 });
    assert.equal(auto.outcome.storage, 'f32');
    assert.ok(auto.outcome.rejected, 'the f16 attempt is reported');
    assert.equal(auto.outcome.rejected.storage, 'f16');
    assert.ok(auto.outcome.rejected.recall < MIN_RECALL, `f16 recall ${auto.outcome.rejected.recall}`);
    assert.ok((auto.outcome.recall ?? 0) > auto.outcome.rejected.recall);
    auto.index.dispose();
    const fixed = await buildGraph(job(vectors, probe, 'f16'), { chunkRows: 1000 });
    assert.equal(fixed.outcome.storage, 'f16');
    assert.ok((fixed.outcome.recall ?? 1) < MIN_RECALL);
    fixed.index.dispose();
  });

  it('reports progress after every chunk', async () => {
    const seen: number[] = [];
    const { index } = await buildGraph(job(points(2500, 7), points(10, 8), 'f32'), { chunkRows: 1000, after: (done) => void seen.push(done) });
    assert.deepEqual(seen, [1000, 2000, 2500]);
    index.dispose();
  });
});

describe('GraphBuilder', () => {
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'ood-graphs-'));
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('builds on threads the graph this thread builds, several at once, and leaves no files behind', async () => {
    const builder = new GraphBuilder(2, scratch);
    const sets = [points(ROWS, 11), points(ROWS, 12), points(ROWS, 13)];
    const probe = points(50, 14);
    const seen: number[] = [];
    const threaded = await Promise.all(sets.map((v, i) => builder.build(job(v, probe, 'f32'), (done) => i === 0 && seen.push(done))));
    const queries = points(20, 9);
    for (const [i, v] of sets.entries()) {
      const here = await buildGraph(job(v, probe, 'f32'), { chunkRows: ROWS });
      assert.equal(threaded[i].index.size, ROWS);
      assert.deepEqual(threaded[i].outcome, here.outcome, `graph ${i}`);
      assert.deepEqual(threaded[i].index.searchBatch(queries, 20, 10), here.index.searchBatch(queries, 20, 10), `graph ${i}`);
    }
    assert.equal(seen.at(-1), ROWS, 'progress reached every row');
    assert.deepEqual(await readdir(scratch), []);
  });

  it('builds hnswlib graphs too, f32 whatever the storage asked', { skip: hnswlibSkip }, async () => {
    const builder = new GraphBuilder(1, scratch);
    const hnswJob = { ...job(points(ROWS, 15), points(50, 16), 'auto'), spec: { engine: 'hnswlib' as const, storage: 'auto' as const, params: HnswParamsSchema.parse({}) } };
    const { index, outcome } = await builder.build(hnswJob);
    assert.equal(outcome.storage, 'f32');
    assert.ok((outcome.recall ?? 0) >= MIN_RECALL);
    assert.equal(index.size, ROWS);
    index.dispose();
    await assert.rejects(builder.build({ ...hnswJob, spec: { ...hnswJob.spec, storage: 'f16' } }), /hnswlib engine does not have/);
  });

  it('rejects with the reason when a build cannot be done, and still removes its file', async () => {
    const builder = new GraphBuilder(1, scratch);
    // Fewer values than rows x dim: the thread's addAll refuses the batch.
    await assert.rejects(builder.build({ ...job(points(10, 1), points(5, 2), 'f32'), rows: ROWS }), /building an HNSW graph failed: .*addAll/);
    assert.deepEqual(await readdir(scratch), []);
    assert.throws(() => new GraphBuilder(0, scratch), /at least one thread/);
  });
});
