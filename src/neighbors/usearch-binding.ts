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
