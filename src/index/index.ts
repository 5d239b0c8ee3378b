export type { NeighborIndex, Neighbors } from './neighbor-index.js';
export { ExactIndex } from './exact-index.js';
export { HnswIndex, HnswParamsSchema, type HnswParams, type HnswParamsInput } from './hnsw-index.js';
export { recallAtK } from './recall.js';
