import type { z } from 'zod';
import type { TextCodec } from '../../model/text/text-codec.js';
import type { SourceData } from './labeled-data.js';

/** What a reader needs besides its own manifest entry. */
export interface SourceContext {
  /** The folder holding the reference-set manifest: relative paths in a source resolve here. */
  manifestDir: string;
  /** The manifest's class names, in class-index order: string labels in the data map through them. */
  labels: readonly string[];
  /** The manifest's input shape: readers that decode (images) produce rows of this size. */
  inputShape: readonly number[];
  /** The model's tokenizer, for readers of text; absent where no text model is at hand. */
  text?: TextCodec;
}

/**
 * One data format: the schema of its `source` entry in a reference-set manifest and how to read
 * it. Adding a format is one file with one of these, plus one line in the table of
 * sources/registry.ts; nothing else switches on the kind.
 */
export interface SourceReader<Schema extends SourceSchema> {
  kind: z.output<Schema>['kind'];
  schema: Schema;
  /** Whether the source names its own test rows; otherwise test is carved from the pool. */
  hasTestPool(source: z.output<Schema>): boolean;
  read(source: z.output<Schema>, context: SourceContext): Promise<SourceData>;
}

export type SourceSchema = z.ZodObject<{ kind: z.ZodLiteral<string> } & z.ZodRawShape>;
