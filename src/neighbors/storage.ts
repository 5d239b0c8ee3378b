import { z } from 'zod';

/**
 * How a graph stores its vectors. f16 halves the memory of f32 and roughly doubles usearch's
 * search speed on these machines; i8 quarters it: usearch divides each vector by its length,
 * then scales by 127 and truncates, so only a unit vector's distances survive (every layer
 * here is L2-normalised first), and coarsely: it is kept only where its recall holds.
 */
export const StorageSchema = z.enum(['f32', 'f16', 'i8']);
export type Storage = z.infer<typeof StorageSchema>;

/** A layer's storage as asked for: a fixed one, or `auto` (f16 where its recall holds, else f32). */
export const StorageChoiceSchema = z.enum(['auto', ...StorageSchema.options]);
export type StorageChoice = z.infer<typeof StorageChoiceSchema>;
