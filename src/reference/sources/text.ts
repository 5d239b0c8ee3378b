import { resolve } from 'node:path';
import { z } from 'zod';
import { OodError } from '../../errors.js';
import { selectRows } from '../../math/matrix.js';
import { classLookup } from './csv.js';
import { allRows, SourceDigest, takeLabels, type SourceData, type SourcePool } from './labeled-data.js';
import { dataPath } from './source-fields.js';
import type { SourceContext, SourceReader } from './source-reader.js';
import { readTextRecords, type TextColumns } from './text-records.js';

export const TextSourceSchema = z.strictObject({
  kind: z.literal('text'),
  /** A CSV file with a header, or a JSON Lines file: one labelled text per row. */
  file: dataPath,
  text_column: z.string().min(1),
  /** Holds class names or class indices. */
  label_column: z.string().min(1),
  /** Same columns as `file`. */
  test_file: dataPath.optional(),
});
export type TextSource = z.infer<typeof TextSourceSchema>;

/**
 * Labelled texts, tokenized by the model's own tokenizer into the rows the model takes: the
 * reference set of a text model. It cannot be read without that model's tokenizer.
 */
export const textReader: SourceReader<typeof TextSourceSchema> = {
  kind: 'text',
  schema: TextSourceSchema,
  hasTestPool: (source) => Boolean(source.test_file),
  read: (source, context) => readTextSource(source, context),
};

async function readTextSource(source: TextSource, context: SourceContext): Promise<SourceData> {
  const at = (p: string) => resolve(context.manifestDir, p);
  const digest = new SourceDigest();
  const columns = { text: source.text_column, label: source.label_column };
  const pool = await readTextPool(at(source.file), columns, context, digest);
  const testPool = source.test_file === undefined ? null : await readTextPool(at(source.test_file), columns, context, digest);
  return { pool, testPool, digest: digest.hex() };
}

async function readTextPool(file: string, columns: TextColumns, context: SourceContext, digest: SourceDigest): Promise<SourcePool> {
  const { text } = context;
  if (!text) throw new OodError('CONFIG_INVALID', `${file} holds texts; reading them needs the model's tokenizer (a text model's reference set is read with its model)`);
  const records = await readTextRecords(file, columns, digest);
  if (records.length === 0) throw new OodError('DATA_INVALID', `${file} holds no texts`);
  const cols = context.inputShape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(records.length * cols);
  const labels = new Int32Array(records.length);
  const classOf = classLookup(context.labels, file);
  records.forEach((record, r) => {
    text.encodeInto(record.text, data, r, `${file} line ${record.line}: the text`);
    labels[r] = classOf(record.label, record.line);
  });
  const x = { data, rows: records.length, cols };
  return {
    size: records.length,
    cols,
    labels,
    take: (indices = allRows(records.length)) => ({ x: selectRows(x, indices), labels: takeLabels(labels, indices) }),
  };
}
