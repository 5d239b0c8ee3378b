import { createRequire } from 'node:module';

/**
 * usearch, through its CommonJS build. Its ES module build finds its native binary by walking a
 * stack trace, which inside a worker thread started under tsx never returns (the import hangs);
 * the CommonJS build uses __dirname. Both wrap the same binary.
 */
const usearch = createRequire(import.meta.url)('usearch') as typeof import('usearch');

export const { Index, MetricKind, exactSearch } = usearch;
export type { BatchMatches, Matches, ScalarKind } from 'usearch';
export type NativeIndex = import('usearch').Index;

/**
 * usearch's answer to `rows` queries at k as this service's neighbour lists: ids from its
 * BigUint64 keys, `scale` applied to its distances. One query comes back as a single Matches,
 * with no counts, several as BatchMatches, each row k wide with its own count.
 */
export function toNeighbors(found: import('usearch').Matches | import('usearch').BatchMatches, rows: number, k: number, scale = 1): { ids: Int32Array; distances: Float32Array }[] {
  const counts = 'counts' in found ? found.counts : BigUint64Array.of(BigInt(found.keys.length));
  return Array.from({ length: rows }, (_, r) => {
    const count = Number(counts[r]);
    const ids = new Int32Array(count);
    const distances = new Float32Array(count);
    for (let j = 0, at = r * k; j < count; j++, at++) {
      ids[j] = Number(found.keys[at]);
      distances[j] = found.distances[at] * scale;
    }
    return { ids, distances };
  });
}
