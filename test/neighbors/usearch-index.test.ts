import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExactIndex } from '../../src/neighbors/exact-index.js';
import { HnswParamsSchema } from '../../src/neighbors/hnsw-params.js';
import { recallAtK } from '../../src/neighbors/recall.js';
import { UsearchIndex } from '../../src/neighbors/usearch-index.js';
import { l2NormalizeRows } from '../../src/math/normalize.js';
import { createRng, gaussian } from '../../src/math/random.js';

const params = HnswParamsSchema.parse({});
const DIM = 12;
const COUNT = 400;

function unitVectors(rows: number, seed: number, dim = DIM): Float32Array {
  const rng = createRng(seed);
  return l2NormalizeRows({ data: Float32Array.from({ length: rows * dim }, () => gaussian(rng)), rows, cols: dim }).data as Float32Array;
}

/** Offsets in a saved file, after `rows` f16 vectors (usearch-file.ts documents the layout). */
const headAt = (rows: number, bytesPerVector: number) => 8 + rows * bytesPerVector;

describe('UsearchIndex', () => {
  let dir: string;
  let good: Buffer;
  const vectors = unitVectors(COUNT, 1);
  const queries = unitVectors(30, 2);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ood-usearch-'));
    const index = UsearchIndex.create(DIM, 'f16', params, { buildThreads: 1 });
    index.addAll(vectors, COUNT);
    await index.save(join(dir, 'good.usearch'));
    good = await readFile(join(dir, 'good.usearch'));
    index.dispose();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores f16 and i8 with distances on the scale of the exact ones', () => {
    const exact = new ExactIndex(DIM);
    exact.addAll(vectors, COUNT);
    const truth = exact.searchBatch(queries, 30, 10);
    // f16 keeps about three decimal digits of a unit vector's coordinates; i8 about two.
    for (const [storage, tolerance, minRecall] of [
      ['f16', 2e-3, 0.99],
      ['i8', 5e-2, 0.8],
    ] as const) {
      const index = UsearchIndex.create(DIM, storage, params, { buildThreads: 1 });
      index.addAll(vectors, COUNT);
      const found = index.searchBatch(queries, 30, 10);
      assert.ok(recallAtK(found, truth) >= minRecall, `${storage} recall ${recallAtK(found, truth)}`);
      found.forEach((f, q) => {
        const nearest = truth[q].distances[0];
        assert.ok(Math.abs(f.distances[0] - nearest) < tolerance * 4, `${storage} query ${q}: ${f.distances[0]} vs ${nearest}`);
      });
      index.dispose();
    }
  });

  it('answers the same memory-mapped as loaded, and a mapped index refuses insertions', async () => {
    const path = join(dir, 'good.usearch');
    const loaded = await UsearchIndex.open(path, DIM, 'f16', params);
    const mapped = await UsearchIndex.open(path, DIM, 'f16', params, { map: true });
    assert.equal(mapped.size, COUNT);
    assert.deepEqual(mapped.searchBatch(queries, 30, 10), loaded.searchBatch(queries, 30, 10));
    assert.throws(() => mapped.addAll(vectors.subarray(0, DIM), 1), /read-only/);
    loaded.dispose();
    mapped.dispose();
    assert.throws(() => mapped.searchBatch(queries, 30, 10), /disposed/);
  });

  it('searches a batch on several threads exactly as on one', () => {
    const one = UsearchIndex.create(DIM, 'f32', params, { buildThreads: 1, searchThreads: 1 });
    one.addAll(vectors, COUNT);
    const path = join(dir, 'threads.usearch');
    return one.save(path).then(async () => {
      const two = await UsearchIndex.open(path, DIM, 'f32', params, { searchThreads: 2 });
      assert.deepEqual(two.searchBatch(queries, 30, 10), one.searchBatch(queries, 30, 10));
      one.dispose();
      two.dispose();
    });
  });

  it('refuses a file of another storage or M, naming it', async () => {
    const path = join(dir, 'good.usearch');
    await assert.rejects(UsearchIndex.open(path, DIM, 'f32', params), { code: 'CACHE_INVALID', message: /vectors take 24 bytes/ });
    await assert.rejects(UsearchIndex.open(path, DIM, 'f16', { ...params, M: 8 }), { code: 'CACHE_INVALID', message: /connectivity 16.*expected M=8/ });
  });

  const at = headAt(COUNT, DIM * 2);
  const graphAt = at + 64;
  const levelsAt = graphAt + 40;
  const nodesAt = levelsAt + 2 * COUNT;
  const corruptions: [string, RegExp, (b: Buffer) => void][] = [
    ['a bad magic', /bad magic/, (b) => b.write('xsearch', at, 'latin1')],
    ['another metric', /not l2sq/, (b) => b.writeUInt8('c'.charCodeAt(0), at + 13)],
    ['deleted vectors', /marked deleted/, (b) => b.writeBigUInt64LE(1n, at + 25)],
    ['a count that disagrees with the vectors', /vectors stored/, (b) => b.writeBigUInt64LE(BigInt(COUNT + 1), at + 17)],
    ['several vectors per key', /several vectors per key/, (b) => b.writeUInt8(1, at + 41)],
    ['an entry slot past the end', /entry slot/, (b) => b.writeBigUInt64LE(BigInt(COUNT), graphAt + 32)],
    ['an absurd max level', /max level/, (b) => b.writeBigUInt64LE(1000n, graphAt + 24)],
    ['a negative level', /has level -1/, (b) => b.writeInt16LE(-1, levelsAt)],
    ['a repeated key', /repeated key/, (b) => b.writeBigUInt64LE(b.readBigUInt64LE(nodesAt), nodesAt + 10 + 4 + 4 * 32 + (4 + 4 * 16) * b.readInt16LE(levelsAt))],
    ['too many links', /links at level 0/, (b) => b.writeUInt32LE(1000, nodesAt + 10)],
    [
      'a link past the end',
      /links to \d+ at level 0/,
      (b) => {
        b.writeUInt32LE(1, nodesAt + 10);
        b.writeUInt32LE(COUNT + 5, nodesAt + 14);
      },
    ],
  ];
  for (const [name, reason, corrupt] of corruptions) {
    it(`rejects a file with ${name} before the native loader sees it`, async () => {
      const bytes = Buffer.from(good);
      corrupt(bytes);
      const path = join(dir, 'corrupt.usearch');
      await writeFile(path, bytes);
      for (const map of [false, true]) {
        await assert.rejects(UsearchIndex.open(path, DIM, 'f16', params, { map }), { code: 'CACHE_INVALID', message: reason }, `map: ${map}`);
      }
    });
  }
});
