import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GraphBuilder } from '../../src/neighbors/graph-builder.js';
import { HnswIndex, HnswParamsSchema } from '../../src/neighbors/hnsw-index.js';
import { createRng } from '../../src/math/random.js';

const DIM = 16;
const ROWS = 3000;
const params = HnswParamsSchema.parse({ M: 8, efConstruction: 64, efSearch: 64, seed: 5 });

function points(rows: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: rows * DIM }, () => rng());
}

describe('GraphBuilder', () => {
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'ood-graphs-'));
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('builds on threads the same graph as on this thread, several at once, and leaves no files behind', async () => {
    const builder = new GraphBuilder(2, scratch);
    const sets = [points(ROWS, 1), points(ROWS, 2), points(ROWS, 3)];
    const seen: number[] = [];
    const threaded = await Promise.all(sets.map((v, i) => builder.build(v, ROWS, DIM, params, (done) => i === 0 && seen.push(done))));
    const queries = points(20, 9);
    for (const [i, v] of sets.entries()) {
      const here = HnswIndex.create(DIM, ROWS, params);
      here.addAll(v, ROWS);
      assert.equal(threaded[i].size, ROWS);
      assert.deepEqual(threaded[i].searchBatch(queries, 20, 10), here.searchBatch(queries, 20, 10), `graph ${i}`);
    }
    assert.equal(seen.at(-1), ROWS, 'progress reached every row');
    assert.deepEqual(await readdir(scratch), []);
  });

  it('rejects with the reason when a build cannot be done, and still removes its file', async () => {
    const builder = new GraphBuilder(1, scratch);
    // Fewer values than rows x dim: the thread's addAll refuses the batch.
    await assert.rejects(builder.build(new Float32Array(10), ROWS, DIM, params), /building an HNSW graph failed: .*addAll/);
    assert.deepEqual(await readdir(scratch), []);
    assert.throws(() => new GraphBuilder(0, scratch), /at least one thread/);
  });
});
