import { z } from 'zod';

/** The HNSW graph's parameters, the same for every engine (usearch calls M "connectivity"). */
export const HnswParamsSchema = z.object({
  /** Links per node; 2M at level 0. More means better recall, more memory, slower build. */
  M: z.number().int().min(2).max(10_000).default(16),
  efConstruction: z.number().int().min(1).default(200),
  /** Candidate list size at query time; raised to k for a search that asks for more. */
  efSearch: z.number().int().min(1).default(100),
  /** Seeds hnswlib's level draws so that a build is reproducible (usearch seeds its own). */
  seed: z.number().int().min(0).max(0xffffffff).default(100),
});
export type HnswParams = z.infer<typeof HnswParamsSchema>;
export type HnswParamsInput = z.input<typeof HnswParamsSchema>;
