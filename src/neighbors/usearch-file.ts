import { open, type FileHandle } from 'node:fs/promises';
import { OodError } from '../errors.js';
import { readAt } from './read-at.js';
import type { Storage } from './storage.js';

/**
 * Structural check of a usearch dense index file, done in JS before the file reaches the native
 * loader, which trusts it: a file one byte short aborts the whole process with heap corruption
 * (seen with usearch 2.25.3). So every size, level and link that a search will follow is checked
 * here, and the file must end exactly where its last node does. Vector values are not checked
 * (a flipped bit there yields wrong distances, not a crash; the cache's checksum catches it).
 *
 * Layout (index_dense.hpp and index.hpp, save_to_stream, 64-bit):
 * - u32 rows, u32 bytes per vector, then rows vectors;
 * - a 64-byte packed head: "usearch", three u16 versions, u8 metric, scalar, key and slot
 *   kinds, u64 present and deleted counts, u64 dimensions, u8 multi;
 * - the graph: u64 size, connectivity, base connectivity, max level and entry slot; size i16
 *   levels; then per node a u64 key, an i16 level, a level-0 list [u32 count, base x u32 slots]
 *   and for each upper level [u32 count, connectivity x u32 slots].
 */
const HEAD_BYTES = 64;
const GRAPH_HEADER_BYTES = 40;
const MAGIC = 'usearch';
/** metric_kind_t::l2sq_k, the only metric this service builds. */
const L2SQ = 'e'.charCodeAt(0);
const KEY_U64 = 14;
const SLOT_U32 = 15;
const CHUNK_BYTES = 1 << 22;

/** The scalar kinds as index_plugins.hpp numbers them (scalar_kind_t). */
export const SCALAR_CODES: Record<Storage, number> = { f32: 11, f16: 12, i8: 23 };
const BYTES_PER_VALUE: Record<Storage, number> = { f32: 4, f16: 2, i8: 1 };

export interface UsearchFileInfo {
  count: number;
  maxLevel: number;
}

export async function checkUsearchFile(path: string, dim: number, storage: Storage, M: number): Promise<UsearchFileInfo> {
  const invalid = (why: string) => new OodError('CACHE_INVALID', `usearch index ${path} is invalid: ${why}`);
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (err) {
    throw new OodError('CACHE_INVALID', `Cannot read usearch index ${path}`, { cause: err });
  }
  try {
    const fileBytes = (await file.stat()).size;
    if (fileBytes < 8) throw invalid(`truncated (${fileBytes} bytes)`);
    const matrix = await readAt(file, 0, 8, 'usearch index');
    const rows = matrix.getUint32(0, true);
    const vectorBytes = matrix.getUint32(4, true);
    if (vectorBytes !== dim * BYTES_PER_VALUE[storage]) {
      throw invalid(`vectors take ${vectorBytes} bytes, not the ${dim * BYTES_PER_VALUE[storage]} of ${dim}-dimensional ${storage} vectors`);
    }
    const headAt = 8 + rows * vectorBytes;
    if (fileBytes < headAt + HEAD_BYTES + GRAPH_HEADER_BYTES) throw invalid(`truncated (${fileBytes} bytes for ${rows} vectors)`);
    const head = await readAt(file, headAt, HEAD_BYTES + GRAPH_HEADER_BYTES, 'usearch index');
    const text = Buffer.from(head.buffer, head.byteOffset, MAGIC.length).toString('latin1');
    if (text !== MAGIC) throw invalid('not a usearch file (bad magic)');
    if (head.getUint8(13) !== L2SQ) throw invalid(`metric ${head.getUint8(13)} is not l2sq`);
    const scalar = head.getUint8(14);
    if (scalar !== SCALAR_CODES[storage]) throw invalid(`stores scalar kind ${scalar}, expected ${storage} (${SCALAR_CODES[storage]})`);
    if (head.getUint8(15) !== KEY_U64 || head.getUint8(16) !== SLOT_U32) throw invalid('unexpected key or slot type');
    const u64 = (at: number): number => {
      const value = head.getBigUint64(at, true);
      if (value > 0x7fffffffn) throw invalid(`field at byte ${at} of the head is out of range`);
      return Number(value);
    };
    const present = u64(17);
    const deleted = u64(25);
    const fileDim = u64(33);
    if (fileDim !== dim) throw invalid(`vectors are ${fileDim}-dimensional, expected ${dim}`);
    if (head.getUint8(41) !== 0) throw invalid('it allows several vectors per key');
    // This service never removes points; a removed one would silently shift what a search finds.
    if (deleted !== 0) throw invalid(`${deleted} vectors are marked deleted`);
    const size = u64(HEAD_BYTES);
    const connectivity = u64(HEAD_BYTES + 8);
    const base = u64(HEAD_BYTES + 16);
    const maxLevel = u64(HEAD_BYTES + 24);
    const entry = u64(HEAD_BYTES + 32);
    if (size < 1) throw invalid('it holds no vectors');
    if (present !== size || rows !== size) throw invalid(`${rows} vectors stored, ${present} present, ${size} in the graph`);
    if (connectivity !== M || base < connectivity || base > 2 * M) throw invalid(`built with connectivity ${connectivity} (base ${base}), expected M=${M}`);
    if (maxLevel > 63) throw invalid(`max level ${maxLevel} is implausible`);
    if (entry >= size) throw invalid(`entry slot ${entry} is not a node`);

    const levelsAt = headAt + HEAD_BYTES + GRAPH_HEADER_BYTES;
    if (fileBytes < levelsAt + 2 * size) throw invalid('truncated in the level table');
    const levelTable = await readAt(file, levelsAt, 2 * size, 'usearch index');
    const levels = new Int16Array(size);
    const upperBytes = 4 + 4 * connectivity;
    const baseBytes = 4 + 4 * base;
    let expectedEnd = levelsAt + 2 * size;
    for (let i = 0; i < size; i++) {
      levels[i] = levelTable.getInt16(2 * i, true);
      if (levels[i] < 0 || levels[i] > maxLevel) throw invalid(`node ${i} has level ${levels[i]}`);
      expectedEnd += 10 + baseBytes + upperBytes * levels[i];
    }
    if (levels[entry] !== maxLevel) throw invalid('the entry node is not on the top level');
    if (fileBytes !== expectedEnd) throw invalid(`${fileBytes} bytes, expected ${expectedEnd} (truncated or padded)`);
    await checkNodes(file, { at: levelsAt + 2 * size, size, connectivity, base, levels }, invalid);
    return { count: size, maxLevel };
  } finally {
    await file.close();
  }
}

interface NodeLayout {
  at: number;
  size: number;
  connectivity: number;
  base: number;
  levels: Int16Array;
}

/** Each node's key (its insertion position, once each), level and links, read in chunks. */
async function checkNodes(file: FileHandle, layout: NodeLayout, invalid: (why: string) => Error): Promise<void> {
  const { size, connectivity, base, levels } = layout;
  const seen = new Uint8Array(size);
  const nodeBytes = (i: number) => 10 + 4 + 4 * base + (4 + 4 * connectivity) * levels[i];
  let node = 0;
  let position = layout.at;
  while (node < size) {
    // Whole nodes per chunk: at least one, however large.
    let length = 0;
    let last = node;
    while (last < size && (length === 0 || length + nodeBytes(last) <= CHUNK_BYTES)) length += nodeBytes(last++);
    const chunk = await readAt(file, position, length, 'usearch index');
    let at = 0;
    for (; node < last; node++) {
      const key = chunk.getBigUint64(at, true);
      if (key >= BigInt(size) || seen[Number(key)] === 1) throw invalid(`bad or repeated key at node ${node}`);
      seen[Number(key)] = 1;
      if (chunk.getInt16(at + 8, true) !== levels[node]) throw invalid(`node ${node}'s level differs from the level table`);
      at += 10;
      for (let level = 0; level <= levels[node]; level++) {
        const capacity = level === 0 ? base : connectivity;
        const count = chunk.getUint32(at, true);
        if (count > capacity) throw invalid(`node ${node} has ${count} links at level ${level}`);
        for (let j = 0; j < count; j++) {
          const target = chunk.getUint32(at + 4 + 4 * j, true);
          // A search at this level reads the target's list at the same level.
          if (target >= size || levels[target] < level) throw invalid(`node ${node} links to ${target} at level ${level}`);
        }
        at += 4 + 4 * capacity;
      }
    }
    position += length;
  }
}
