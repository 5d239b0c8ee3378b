import { z } from 'zod';

/**
 * How a graph stores its vectors. f16 halves the memory of f32 and roughly doubles usearch's
 * search speed on these machines; i8 quarters it, but usearch scales each value by 127 before
 * rounding, so it only suits vectors inside [-1, 1] (every layer here is L2-normalised first),
 * and only where its recall holds.
 */
export const StorageSchema = z.enum(['f32', 'f16', 'i8']);
export type Storage = z.infer<typeof StorageSchema>;

/** A layer's storage as asked for: a fixed one, or `auto` (f16 where its recall holds, else f32). */
export const StorageChoiceSchema = z.enum(['auto', ...StorageSchema.options]);
export type StorageChoice = z.infer<typeof StorageChoiceSchema>;
