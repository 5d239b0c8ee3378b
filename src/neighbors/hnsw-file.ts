import { open, type FileHandle } from 'node:fs/promises';
import { OodError } from '../errors.js';
import { readAt } from './read-at.js';

/**
 * Structural check of an hnswlib index file, done in JS before the file reaches the native
 * loader. hnswlib trusts its header: a file whose max_elements, maxlevel or entry point is
 * wrong loads "fine" and then aborts or segfaults the whole process (seen with hnswlib-node
 * 3.0.0: heap corruption on load, `terminate` on "cand error", SIGSEGV on search). Plain
 * truncation it does catch, but only after trusting the header. So every offset and link
 * that the native search will follow is checked here; vector values are not (a flipped bit
 * there yields wrong distances, not a crash). The file is read in chunks so a large index
 * is never held twice in memory.
 *
 * Layout (hnswalg.h saveIndex, 64-bit): a 96-byte header, then per element a level-0 block
 * of [u16 link count, u8 flags, u8, maxM0 x u32 links, dim x f32, u64 label], then per
 * element a u32 byte length followed by that many bytes of upper-level link lists, each
 * level [u16 count, u16, maxM x u32 links].
 */
const HEADER_BYTES = 96;
const LABEL_BYTES = 8;
const DELETE_MARK = 0x01;
const CHUNK_BYTES = 1 << 22;

export interface HnswFileInfo {
  count: number;
  maxElements: number;
  maxLevel: number;
}

type Invalid = (why: string) => OodError;

/** The header's fields (hnswlib's saveIndex order). */
interface HnswHeader {
  maxElements: number;
  count: number;
  bytesPerElement: number;
  labelOffset: number;
  offsetData: number;
  maxLevel: number;
  entryPoint: number;
  maxM: number;
  maxM0: number;
}

/** Reads the header and checks it against the graph expected: its dimension and M, and that its sizes agree. */
function checkHeader(header: DataView, dim: number, M: number, invalid: Invalid): HnswHeader {
  const size = (offset: number): number => {
    const value = header.getBigUint64(offset, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(`header field at byte ${offset} is out of range`);
    return Number(value);
  };
  const fields: HnswHeader = {
    maxElements: size(8),
    count: size(16),
    bytesPerElement: size(24),
    labelOffset: size(32),
    offsetData: size(40),
    maxLevel: header.getInt32(48, true),
    entryPoint: header.getUint32(52, true),
    maxM: size(56),
    maxM0: size(64),
  };
  const { maxElements, count, bytesPerElement, labelOffset, offsetData, maxLevel, entryPoint, maxM, maxM0 } = fields;
  const fileM = size(72);
  const mult = header.getFloat64(80, true);
  if (size(0) !== 0) throw invalid('unexpected level-0 offset (not an hnswlib file?)');
  if (count < 1) throw invalid('it holds no vectors');
  // HnswIndex.save shrinks the capacity to the count, and hnswlib allocates the stored
  // capacity on load, so anything else is corruption that could exhaust memory.
  if (maxElements !== count) throw invalid(`capacity ${maxElements} differs from count ${count}`);
  if (count > 0x7fffffff) throw invalid(`count ${count} exceeds the id range`);
  if (fileM !== M || maxM !== M || maxM0 !== 2 * M) {
    throw invalid(`built with M=${fileM} (maxM=${maxM}, maxM0=${maxM0}), expected M=${M}`);
  }
  if (!(mult > 0 && Number.isFinite(mult))) throw invalid('bad level multiplier');
  const level0LinkBytes = 4 + 4 * maxM0;
  if (offsetData !== level0LinkBytes) throw invalid('bad data offset');
  const fileDim = (bytesPerElement - level0LinkBytes - LABEL_BYTES) / 4;
  if (fileDim !== dim || labelOffset !== level0LinkBytes + 4 * dim) {
    throw invalid(`vectors are ${fileDim}-dimensional, expected ${dim}`);
  }
  if (maxLevel < 0) throw invalid(`bad max level ${maxLevel}`);
  if (entryPoint >= count) throw invalid(`entry point ${entryPoint} is not an element`);
  return fields;
}

/** Checks the upper levels' link lists: their lengths, levels, and that every link stays on a level its target reaches. */
function checkUpperLevels(upper: DataView, { count, maxM, maxLevel, entryPoint }: HnswHeader, invalid: Invalid): void {
  const levels = new Int32Array(count);
  const listStarts = new Float64Array(count);
  const upperListBytes = 4 + 4 * maxM;
  let pos = 0;
  for (let i = 0; i < count; i++) {
    if (pos + 4 > upper.byteLength) throw invalid(`truncated in the links of element ${i}`);
    const listBytes = upper.getUint32(pos, true);
    pos += 4;
    if (listBytes % upperListBytes !== 0) throw invalid(`bad link list length for element ${i}`);
    levels[i] = listBytes / upperListBytes;
    if (levels[i] > maxLevel) throw invalid(`element ${i} is above the max level`);
    listStarts[i] = pos;
    pos += listBytes;
  }
  if (pos !== upper.byteLength) throw invalid(`${upper.byteLength - pos} bytes too short or long at the end`);
  if (levels[entryPoint] !== maxLevel) throw invalid('the entry point is not on the top level');

  // Greedy descent reads the link lists of each neighbour at the same level, so a link to
  // an element that does not reach that level is an out-of-bounds read.
  for (let i = 0; i < count; i++) {
    for (let level = 1; level <= levels[i]; level++) {
      const at = listStarts[i] + (level - 1) * upperListBytes;
      const links = upper.getUint16(at, true);
      if (links > maxM) throw invalid(`element ${i} has ${links} links at level ${level}`);
      for (let j = 0; j < links; j++) {
        const target = upper.getUint32(at + 4 + 4 * j, true);
        if (target >= count || levels[target] < level) {
          throw invalid(`element ${i} links to ${target} at level ${level}`);
        }
      }
    }
  }
}

export async function checkHnswFile(path: string, dim: number, M: number): Promise<HnswFileInfo> {
  const invalid: Invalid = (why) => new OodError('CACHE_INVALID', `HNSW index ${path} is invalid: ${why}`);
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (err) {
    throw new OodError('CACHE_INVALID', `Cannot read HNSW index ${path}`, { cause: err });
  }
  try {
    const fileBytes = (await file.stat()).size;
    if (fileBytes < HEADER_BYTES) throw invalid(`truncated header (${fileBytes} bytes)`);
    const header = checkHeader(await readAt(file, 0, HEADER_BYTES, 'HNSW index'), dim, M, invalid);
    const { count, bytesPerElement, labelOffset, maxM0 } = header;
    const level0End = HEADER_BYTES + count * bytesPerElement;
    if (fileBytes < level0End + 4 * count) throw invalid(`truncated (${fileBytes} bytes)`);
    await checkLevel0(file, { count, bytesPerElement, labelOffset, maxM0 }, invalid);
    checkUpperLevels(await readAt(file, level0End, fileBytes - level0End, 'HNSW index'), header, invalid);
    return { count, maxElements: header.maxElements, maxLevel: header.maxLevel };
  } finally {
    await file.close();
  }
}

async function checkLevel0(
  file: FileHandle,
  layout: { count: number; bytesPerElement: number; labelOffset: number; maxM0: number },
  invalid: (why: string) => Error,
): Promise<void> {
  const { count, bytesPerElement, labelOffset, maxM0 } = layout;
  const seenLabels = new Uint8Array(count);
  const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / bytesPerElement));
  for (let first = 0; first < count; first += perChunk) {
    const n = Math.min(perChunk, count - first);
    const chunk = await readAt(file, HEADER_BYTES + first * bytesPerElement, n * bytesPerElement, 'HNSW index');
    for (let e = 0; e < n; e++) {
      const i = first + e;
      const base = e * bytesPerElement;
      const links = chunk.getUint16(base, true);
      if (links > maxM0) throw invalid(`element ${i} has ${links} level-0 links`);
      // This service never deletes; a set mark would silently hide the point from searches.
      if ((chunk.getUint8(base + 2) & DELETE_MARK) !== 0) throw invalid(`element ${i} is marked deleted`);
      for (let j = 0; j < links; j++) {
        const target = chunk.getUint32(base + 4 + 4 * j, true);
        if (target >= count) throw invalid(`element ${i} links to ${target} at level 0`);
      }
      // Ids are insertion positions, so the labels must be exactly 0..count-1.
      const label = chunk.getUint32(base + labelOffset, true);
      const labelHigh = chunk.getUint32(base + labelOffset + 4, true);
      if (labelHigh !== 0 || label >= count || seenLabels[label] === 1) throw invalid(`bad or repeated id at element ${i}`);
      seenLabels[label] = 1;
    }
  }
}
