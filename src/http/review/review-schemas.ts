import { z } from 'zod';

/**
 * What the review routes answer: the schemas the routes serialise with, and the types the
 * page's own script (browser/review.ts) reads them as, so a change to one is a type error in
 * the other.
 */
export const DisplaySchema = z.union([
  z.object({ kind: z.literal('image'), width: z.number().int(), height: z.number().int(), channels: z.number().int(), layout: z.enum(['nchw', 'nhwc']) }),
  z.object({ kind: z.literal('table') }),
  z.object({ kind: z.literal('text') }),
]);

export const FlaggedEntrySchema = z.object({
  id: z.number().int(),
  time: z.string(),
  model: z.string(),
  version: z.string(),
  label: z.string(),
  class_index: z.number().int(),
  outlier_score: z.number(),
  p_values: z.record(z.string(), z.number()),
  input: z.array(z.number()),
  /** A text model's input, as the text its tokens spell. */
  text: z.string().optional(),
  layers: z.array(
    z.object({
      name: z.string(),
      k: z.number().int(),
      in_class_neighbors: z.number().int(),
      nearest: z.array(z.object({ id: z.number().int(), label: z.string(), text: z.string().optional() })),
    }),
  ),
  features: z
    .array(z.object({ index: z.number().int(), value: z.number(), neighbor_mean: z.number(), deviation: z.number(), marked: z.boolean() }))
    .optional(),
});

export const OutliersSchema = z.object({
  model: z.string(),
  version: z.string(),
  capacity: z.number().int(),
  /** Entries kept now; this answer holds the newest `limit` of them (older than `before`). */
  kept: z.number().int(),
  display: DisplaySchema,
  entries: z.array(FlaggedEntrySchema),
});

export const ReferenceSchema = z.object({
  id: z.number().int(),
  label: z.string(),
  model: z.string(),
  version: z.string(),
  display: DisplaySchema,
  values: z.array(z.number()),
  text: z.string().optional(),
});

export type Display = z.infer<typeof DisplaySchema>;
export type FlaggedEntryView = z.infer<typeof FlaggedEntrySchema>;
export type Outliers = z.infer<typeof OutliersSchema>;
export type Reference = z.infer<typeof ReferenceSchema>;
