import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hnswlibAvailable } from '../../src/neighbors/graph-engine.js';
import { HnswParamsSchema } from '../../src/neighbors/hnsw-params.js';
import { createRng, gaussian } from '../../src/math/random.js';

// Offsets in hnswlib's file header (hnswalg.h saveIndex, 64-bit build).
const MAX_ELEMENTS = 8;
const MAX_LEVEL = 48;
const ENTRY_POINT = 52;
const HEADER_BYTES = 96;

it('HNSW parameters have the documented defaults', () => {
  assert.deepEqual(HnswParamsSchema.parse({}), { M: 16, efConstruction: 200, efSearch: 100, seed: 100 });
  assert.throws(() => HnswParamsSchema.parse({ efSearch: 0 }));
});

function randomVectors(rows: number, dim: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < out.length; i++) out[i] = gaussian(rng);
  return out;
}

/** Where the upper-level links of the first element above level 0 start, and its level. */
function firstUpperList(bytes: Buffer, count: number, bytesPerElement: number): { at: number; level: number } {
  let pos = HEADER_BYTES + count * bytesPerElement;
  for (let i = 0; i < count; i++) {
    const listBytes = bytes.readUInt32LE(pos);
    if (listBytes > 0) return { at: pos + 4, level: listBytes };
    pos += 4;
  }
  throw new Error('no element above level 0');
}

// hnswlib-node is optional: it compiles at install time, so a machine without a compiler lacks it.
const available = await hnswlibAvailable();
const { HnswIndex } = available ? await import('../../src/neighbors/hnsw-index.js') : ({} as typeof import('../../src/neighbors/hnsw-index.js'));

describe('HnswIndex', { skip: available ? undefined : 'hnswlib-node is not installed' }, () => {
  const dim = 4;
  const count = 300;
  let dir: string;
  let good: Buffer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ood-hnsw-'));
    const index = HnswIndex.create(dim, 1000);
    index.addAll(randomVectors(count, dim, 1), count);
    await index.save(join(dir, 'good.bin'));
    good = await readFile(join(dir, 'good.bin'));
    index.dispose();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores exactly its count as capacity, so load can bound its allocation', () => {
    assert.equal(good.readBigUInt64LE(MAX_ELEMENTS), BigInt(count));
  });

  it('raises efSearch to k rather than returning fewer or worse neighbours', () => {
    const vectors = randomVectors(count, dim, 2);
    const queries = randomVectors(10, dim, 3);
    const narrow = HnswIndex.create(dim, count, { efSearch: 1 });
    const wide = HnswIndex.create(dim, count, { efSearch: 50 });
    narrow.addAll(vectors, count);
    wide.addAll(vectors, count);
    const a = narrow.searchBatch(queries, 10, 50);
    const b = wide.searchBatch(queries, 10, 50);
    a.forEach((found, q) => {
      assert.equal(found.ids.length, 50);
      assert.deepEqual(Array.from(found.ids), Array.from(b[q].ids));
    });
  });

  it('refuses a file built with another M', async () => {
    await assert.rejects(HnswIndex.load(join(dir, 'good.bin'), dim, { M: 8 }), {
      code: 'CACHE_INVALID',
      message: /M=16/,
    });
  });

  // All but the huge capacity, the repeated id and the deleted mark abort or segfault the
  // process when the file is handed straight to hnswlib-node 3.0.0.
  const bytesPerElement = 4 + 4 * 32 + 4 * dim + 8;
  const corruptions: Array<[string, RegExp, (bytes: Buffer) => void]> = [
    ['capacity below the count', /capacity 1 differs/, (b) => b.writeBigUInt64LE(1n, MAX_ELEMENTS)],
    ['zero capacity', /capacity 0 differs/, (b) => b.writeBigUInt64LE(0n, MAX_ELEMENTS)],
    ['huge capacity', /capacity \d+ differs/, (b) => b.writeBigUInt64LE(1n << 40n, MAX_ELEMENTS)],
    ['max level too high', /entry point is not on the top level/, (b) => b.writeInt32LE(b.readInt32LE(MAX_LEVEL) + 5, MAX_LEVEL)],
    ['entry point out of range', /entry point \d+ is not an element/, (b) => b.writeUInt32LE(count + 100, ENTRY_POINT)],
    ['level-0 link out of range', /links to \d+ at level 0/, (b) => b.writeUInt32LE(0xffffff, HEADER_BYTES + 4)],
    ['level-0 link count too large', /1000 level-0 links/, (b) => b.writeUInt16LE(1000, HEADER_BYTES)],
    ['repeated id', /repeated id/, (b) => b.writeUInt32LE(0, HEADER_BYTES + 2 * bytesPerElement - 8)],
    ['element marked deleted', /marked deleted/, (b) => b.writeUInt8(1, HEADER_BYTES + 2)],
    [
      'upper link out of range',
      /links to \d+ at level [1-9]/,
      (b) => {
        const { at } = firstUpperList(b, count, bytesPerElement);
        b.writeUInt16LE(1, at);
        b.writeUInt32LE(count + 1, at + 4);
      },
    ],
    [
      'upper link to an element below that level',
      /links to \d+ at level [1-9]/,
      (b) => {
        const { at } = firstUpperList(b, count, bytesPerElement);
        let levelZero = 0;
        let pos = HEADER_BYTES + count * bytesPerElement;
        for (let i = 0; i < count; i++, pos += 4 + b.readUInt32LE(pos)) {
          if (b.readUInt32LE(pos) === 0) {
            levelZero = i;
            break;
          }
        }
        b.writeUInt16LE(1, at);
        b.writeUInt32LE(levelZero, at + 4);
      },
    ],
  ];
  for (const [name, reason, corrupt] of corruptions) {
    it(`rejects a file with ${name}`, async () => {
      const bytes = Buffer.from(good);
      corrupt(bytes);
      const path = join(dir, 'corrupt.bin');
      await writeFile(path, bytes);
      await assert.rejects(HnswIndex.load(path, dim), { code: 'CACHE_INVALID', message: reason });
    });
  }

  it('still loads the uncorrupted file', async () => {
    const index = await HnswIndex.load(join(dir, 'good.bin'), dim);
    assert.equal(index.size, count);
    index.dispose();
  });

  it('refuses to add while saving and to work after dispose', async () => {
    const index = HnswIndex.create(dim, 10);
    index.addAll(randomVectors(10, dim, 4), 10);
    const saving = index.save(join(dir, 'busy.bin'));
    assert.throws(() => index.addAll(randomVectors(1, dim, 5), 1), /save is in progress/);
    await saving;
    index.dispose();
    assert.throws(() => index.searchBatch(new Float32Array(dim), 1, 1), /disposed/);
  });
});
