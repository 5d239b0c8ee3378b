import { z } from 'zod';

/** A bare file name, to be joined to a folder the source names: it cannot climb out of it. */
export const fileInDir = z
  .string()
  .min(1)
  .refine((name) => !/[/\\]/.test(name) && name !== '.' && name !== '..', 'must be a file name inside `dir`');

/** A path to a data file: absolute, or relative to the folder that holds the manifest. */
export const dataPath = z.string().min(1);
