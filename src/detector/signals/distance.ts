import { logSumSignal } from './layer-scales.js';

/**
 * How far the nearest reference point is in each layer. The nearest neighbour, not the k-th:
 * with a few thousand reference points the k-th neighbour of an in-distribution input is
 * already far, which blurs it with near-OOD inputs (docs/scoring.md has the measurements).
 */
export const distanceSignal = logSumSignal({ name: 'distance', values: (evidence) => evidence.nearestDistances });
