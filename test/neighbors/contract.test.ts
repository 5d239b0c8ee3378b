import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExactIndex } from '../../src/neighbors/exact-index.js';
import { hnswlibAvailable } from '../../src/neighbors/graph-engine.js';
import { HnswParamsSchema } from '../../src/neighbors/hnsw-params.js';
import { UsearchIndex } from '../../src/neighbors/usearch-index.js';
import type { NeighborIndex, Neighbors } from '../../src/neighbors/neighbor-index.js';
import { createRng, gaussian, permutation } from '../../src/math/random.js';

interface IndexFactory {
  name: string;
  /** Why the contract cannot run here, when it cannot. */
  skip?: string;
  create(dim: number): NeighborIndex;
  load(path: string, dim: number): Promise<NeighborIndex>;
}

/** Row-major rows x dim, standard normal. */
function randomVectors(rows: number, dim: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < out.length; i++) out[i] = gaussian(rng);
  return out;
}

/** Points x = xs[i] on the first axis of a 3-d space. */
function onLine(xs: readonly number[]): Float32Array {
  const out = new Float32Array(xs.length * 3);
  xs.forEach((x, i) => (out[i * 3] = x));
  return out;
}

function build(factory: IndexFactory, vectors: Float32Array, dim: number): NeighborIndex {
  const index = factory.create(dim);
  index.addAll(vectors, vectors.length / dim);
  return index;
}

function assertSameResults(actual: Neighbors[], expected: Neighbors[]): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((got, q) => {
    assert.deepEqual(Array.from(got.ids), Array.from(expected[q].ids), `ids of query ${q}`);
    assert.deepEqual(Array.from(got.distances), Array.from(expected[q].distances), `distances of query ${q}`);
  });
}

function assertClose(actual: Float32Array, expected: readonly number[]): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((d, i) => assert.ok(Math.abs(d - expected[i]) < 1e-5, `distance ${i}: ${d} vs ${expected[i]}`));
}

function runContract(factory: IndexFactory): void {
  describe(`NeighborIndex contract: ${factory.name}`, { skip: factory.skip }, () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ood-index-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('finds the exact neighbours of points on a line, with squared distances', () => {
      const index = build(factory, onLine([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 3);
      const [found] = index.searchBatch(onLine([3.2]), 1, 5);
      assert.deepEqual(Array.from(found.ids), [3, 4, 2, 5, 1]);
      assertClose(found.distances, [0.04, 0.64, 1.44, 3.24, 4.84]);
      index.dispose();
    });

    it('numbers points by insertion order, continuing across calls', () => {
      const xs = Array.from(permutation(20, createRng(7)));
      const index = factory.create(3);
      index.addAll(onLine(xs.slice(0, 8)), 8);
      index.addAll(onLine(xs.slice(8)), 12);
      assert.equal(index.size, 20);
      for (let x = 0; x < 20; x++) {
        const [found] = index.searchBatch(onLine([x + 0.1]), 1, 1);
        assert.equal(found.ids[0], xs.indexOf(x), `nearest to ${x + 0.1}`);
      }
      index.dispose();
    });

    it('returns neighbours sorted nearest first', () => {
      const dim = 6;
      const index = build(factory, randomVectors(300, dim, 1), dim);
      for (const found of index.searchBatch(randomVectors(20, dim, 2), 20, 15)) {
        assert.equal(found.ids.length, 15);
        for (let i = 1; i < found.distances.length; i++) {
          assert.ok(found.distances[i - 1] <= found.distances[i], `ascending at ${i}`);
        }
      }
      index.dispose();
    });

    it('clamps k to the size of the index', () => {
      const index = build(factory, onLine([0, 1, 2, 3, 4]), 3);
      const [found] = index.searchBatch(onLine([10]), 1, 50);
      assert.deepEqual(Array.from(found.ids), [4, 3, 2, 1, 0]);
      assertClose(found.distances, [36, 49, 64, 81, 100]);
      index.dispose();
    });

    it('answers an empty index with empty neighbour lists', () => {
      const index = factory.create(3);
      const found = index.searchBatch(onLine([1, 2]), 2, 3);
      assert.equal(found.length, 2);
      for (const f of found) assert.equal(f.ids.length, 0);
      index.dispose();
    });

    it('gives the same answers in a batch as one query at a time', () => {
      const dim = 8;
      const index = build(factory, randomVectors(400, dim, 3), dim);
      const queries = randomVectors(25, dim, 4);
      const batch = index.searchBatch(queries, 25, 10);
      const single = Array.from({ length: 25 }, (_, q) =>
        index.searchBatch(queries.slice(q * dim, (q + 1) * dim), 1, 10)[0],
      );
      assertSameResults(batch, single);
      index.dispose();
    });

    it('builds the same index from two chunks as from one', () => {
      const dim = 8;
      const vectors = randomVectors(500, dim, 5);
      const queries = randomVectors(30, dim, 6);
      const whole = build(factory, vectors, dim);
      const chunked = factory.create(dim);
      chunked.addAll(vectors.subarray(0, 123 * dim), 123);
      chunked.addAll(vectors.subarray(123 * dim), 500 - 123);
      assertSameResults(chunked.searchBatch(queries, 30, 10), whole.searchBatch(queries, 30, 10));
      whole.dispose();
      chunked.dispose();
    });

    it('answers identically after a save and load round trip', async () => {
      const dim = 8;
      const index = build(factory, randomVectors(500, dim, 7), dim);
      const queries = randomVectors(30, dim, 8);
      const path = join(dir, 'roundtrip.bin');
      await index.save(path);
      const loaded = await factory.load(path, dim);
      assert.equal(loaded.size, 500);
      assert.equal(loaded.dim, dim);
      assertSameResults(loaded.searchBatch(queries, 30, 10), index.searchBatch(queries, 30, 10));
      // A loaded index keeps growing, with ids continuing after the stored ones.
      const origin = new Float32Array(dim);
      loaded.addAll(origin, 1);
      assert.deepEqual(Array.from(loaded.searchBatch(origin, 1, 1)[0].ids), [500]);
      index.dispose();
      loaded.dispose();
    });

    it('rejects vectors or queries of the wrong dimension', () => {
      const index = build(factory, onLine([0, 1, 2]), 3);
      assert.throws(() => index.addAll(new Float32Array(4), 1), RangeError);
      assert.throws(() => index.addAll(new Float32Array(6), 3), RangeError);
      assert.throws(() => index.searchBatch(new Float32Array(2), 1, 1), RangeError);
      assert.throws(() => index.searchBatch(new Float32Array(3), 1, 0), RangeError);
      assert.equal(index.size, 3);
      index.dispose();
    });

    it('refuses to load a file of another dimension', async () => {
      const index = build(factory, randomVectors(50, 4, 9), 4);
      const path = join(dir, 'dim4.bin');
      await index.save(path);
      await assert.rejects(factory.load(path, 5), { code: 'CACHE_INVALID', message: /dimensional/ });
      index.dispose();
    });

    it('refuses to save an empty index', async () => {
      await assert.rejects(factory.create(3).save(join(dir, 'empty.bin')), RangeError);
    });

    it('rejects missing, truncated and foreign files with CACHE_INVALID', async () => {
      const dim = 4;
      const index = build(factory, randomVectors(200, dim, 10), dim);
      const good = join(dir, 'good.bin');
      await index.save(good);
      const bytes = await readFile(good);
      await assert.rejects(factory.load(join(dir, 'missing.bin'), dim), { code: 'CACHE_INVALID' });
      for (const length of [0, 7, 15, 60, 96, 100, Math.floor(bytes.length / 2), bytes.length - 1]) {
        const path = join(dir, `truncated-${length}.bin`);
        await writeFile(path, bytes.subarray(0, length));
        await assert.rejects(factory.load(path, dim), { code: 'CACHE_INVALID' }, `truncated to ${length}`);
      }
      const padded = join(dir, 'padded.bin');
      await writeFile(padded, Buffer.concat([bytes, Buffer.alloc(4)]));
      await assert.rejects(factory.load(padded, dim), { code: 'CACHE_INVALID' });
      const foreign = join(dir, 'foreign.bin');
      const rng = createRng(11);
      await writeFile(foreign, Buffer.from(Array.from(bytes, () => Math.floor(rng() * 256))));
      await assert.rejects(factory.load(foreign, dim), { code: 'CACHE_INVALID' });
      index.dispose();
    });
  });
}

runContract({
  name: 'ExactIndex',
  create: (dim) => new ExactIndex(dim),
  load: (path, dim) => ExactIndex.load(path, dim),
});

const params = HnswParamsSchema.parse({});
runContract({
  name: 'UsearchIndex (f32)',
  // One insertion thread: a multi-threaded build is not reproducible, and the contract compares builds.
  create: (dim) => UsearchIndex.create(dim, 'f32', params, { buildThreads: 1 }),
  load: (path, dim) => UsearchIndex.open(path, dim, 'f32', params, { buildThreads: 1 }),
});

// hnswlib-node is optional: it compiles at install time, so a machine without a compiler lacks it.
const hnswlib = (await hnswlibAvailable()) ? await import('../../src/neighbors/hnsw-index.js') : undefined;
runContract({
  name: 'HnswIndex',
  skip: hnswlib ? undefined : 'hnswlib-node is not installed',
  // Capacity 1 makes every test exercise growth.
  create: (dim) => (hnswlib as NonNullable<typeof hnswlib>).HnswIndex.create(dim, 1),
  load: (path, dim) => (hnswlib as NonNullable<typeof hnswlib>).HnswIndex.load(path, dim),
});
