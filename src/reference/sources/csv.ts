import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { OodError } from '../../errors.js';
import { selectRows } from '../../math/matrix.js';
import { allRows, SourceDigest, takeLabels, type SourceData, type SourcePool } from './labeled-data.js';
import { dataPath } from './source-fields.js';
import type { SourceContext, SourceReader } from './source-reader.js';

export const CsvSourceSchema = z.strictObject({
  kind: z.literal('csv'),
  /** A header line, then one row per example. */
  file: dataPath,
  /** Holds class names or class indices. */
  label_column: z.string().min(1),
  /** Same header as `file`. */
  test_file: dataPath.optional(),
  /** Columns that are neither features nor the label, such as an id. */
  ignore_columns: z.array(z.string().min(1)).optional(),
});
export type CsvSource = z.infer<typeof CsvSourceSchema>;

/** A CSV file with a header: every column but the label and ignored ones is a numeric feature. */
export const csvReader: SourceReader<typeof CsvSourceSchema> = {
  kind: 'csv',
  schema: CsvSourceSchema,
  hasTestPool: (source) => Boolean(source.test_file),
  read: (source, context) => readCsvSource(source, context),
};

/** One record and the 1-based line it starts on (a quoted field may span lines). */
export interface CsvRecord {
  line: number;
  cells: string[];
}

/** What a caller needs to describe a CSV source without a classes file (e.g. add-model). */
export interface CsvSummary {
  header: string[];
  /** Feature columns in header order; their count is the model's input size. */
  featureColumns: string[];
  /** Distinct values of the label column, in order of first appearance. */
  labelValues: string[];
  rows: number;
}

/**
 * RFC 4180 records: quoted fields may hold commas, newlines and doubled quotes; lines end in LF,
 * CRLF or CR; a final newline and blank lines at the very end are ignored.
 */
export function* csvRecords(text: string, file: string): Generator<CsvRecord> {
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // a byte-order mark, as Excel writes
  let line = 1;
  while (i < n) {
    const start = line;
    const cells: string[] = [];
    for (;;) {
      let cell: string;
      if (text.charCodeAt(i) === QUOTE) {
        let parts = '';
        let from = i + 1;
        for (;;) {
          const q = text.indexOf('"', from);
          if (q < 0) throw invalid(file, `line ${start}: a quoted field is never closed`);
          parts += text.slice(from, q);
          if (text.charCodeAt(q + 1) === QUOTE) {
            parts += '"';
            from = q + 2;
          } else {
            i = q + 1;
            break;
          }
        }
        line += countLineBreaks(parts);
        cell = parts;
        const next = text.charCodeAt(i);
        if (i < n && next !== COMMA && next !== LF && next !== CR) {
          throw invalid(file, `line ${line}: unexpected ${JSON.stringify(text[i])} after a closing quote (write a quote inside a field as "")`);
        }
      } else {
        let end = i;
        while (end < n) {
          const c = text.charCodeAt(end);
          if (c === COMMA || c === LF || c === CR) break;
          end++;
        }
        cell = text.slice(i, end);
        i = end;
      }
      cells.push(cell);
      if (text.charCodeAt(i) === COMMA) {
        i++;
        continue;
      }
      break;
    }
    // At a line break or the end of the text.
    if (text.charCodeAt(i) === CR) i++;
    if (text.charCodeAt(i) === LF) i++;
    line++;
    if (cells.length === 1 && cells[0] === '' && /^[\r\n]*$/.test(text.slice(i))) return;
    yield { line: start, cells };
  }
}

/** The header, feature columns, distinct labels and row count of CSV text. */
export function summarizeCsv(text: string, file: string, labelColumn: string, ignoreColumns: readonly string[] = []): CsvSummary {
  const records = csvRecords(text, file);
  const header = readHeader(records.next().value, file);
  const columns = resolveColumns(header, file, labelColumn, ignoreColumns);
  const seen = new Set<string>();
  let rows = 0;
  for (const record of records) {
    checkWidth(record, header, file);
    seen.add(record.cells[columns.label]);
    rows++;
  }
  return { header, featureColumns: columns.features.map((c) => header[c]), labelValues: [...seen], rows };
}

/** Reads a CSV file and summarizes it (see summarizeCsv). */
export async function readCsvSummary(file: string, labelColumn: string, ignoreColumns: readonly string[] = []): Promise<CsvSummary> {
  return summarizeCsv(await readCsvText(file), file, labelColumn, ignoreColumns);
}

/** Feature rows and class indices of CSV text; `classes` are the manifest's labels. */
export function parseCsvPool(
  text: string,
  file: string,
  options: { labelColumn: string; ignoreColumns?: readonly string[]; classes: readonly string[] },
): { header: string[]; pool: SourcePool } {
  const records = csvRecords(text, file);
  const header = readHeader(records.next().value, file);
  const columns = resolveColumns(header, file, options.labelColumn, options.ignoreColumns ?? []);
  const toClass = classLookup(options.classes, file);
  const cols = columns.features.length;
  let data = new Float32Array(Math.max(cols, 1) * 1024);
  const labels: number[] = [];
  for (const record of records) {
    checkWidth(record, header, file);
    const offset = labels.length * cols;
    if (offset + cols > data.length) {
      const grown = new Float32Array(data.length * 2);
      grown.set(data);
      data = grown;
    }
    columns.features.forEach((c, k) => {
      data[offset + k] = featureValue(record.cells[c], file, record.line, header[c]);
    });
    labels.push(toClass(record.cells[columns.label], record.line));
  }
  if (labels.length === 0) throw invalid(file, 'has a header but no data rows');
  const rows = labels.length;
  const x = { data: data.subarray(0, rows * cols), rows, cols };
  const labelArray = Int32Array.from(labels);
  return {
    header,
    pool: {
      size: rows,
      cols,
      labels: labelArray,
      take: (indices = allRows(rows)) => ({ x: selectRows(x, indices), labels: takeLabels(labelArray, indices) }),
    },
  };
}

async function readCsvSource(source: CsvSource, context: SourceContext): Promise<SourceData> {
  const options = { labelColumn: source.label_column, ignoreColumns: source.ignore_columns, classes: context.labels };
  const file = resolve(context.manifestDir, source.file);
  const digest = new SourceDigest();
  // Sequential on purpose: the digest must see the files in a fixed order.
  const train = parseCsvPool(await readCsvText(file, digest), file, options);
  if (source.test_file === undefined) return { pool: train.pool, testPool: null, digest: digest.hex() };
  const testFile = resolve(context.manifestDir, source.test_file);
  const test = parseCsvPool(await readCsvText(testFile, digest), testFile, options);
  if (test.header.join('\0') !== train.header.join('\0')) {
    throw invalid(testFile, `has header ${formatColumns(test.header)} but ${file} has ${formatColumns(train.header)}; they must match`);
  }
  return { pool: train.pool, testPool: test.pool, digest: digest.hex() };
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
/** Plain decimal numbers only: Number() would also take "", "0x1f" and "Infinity". */
const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

export async function readCsvText(file: string, digest?: SourceDigest): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new OodError('DATA_SOURCE_MISSING', `CSV file not found: ${file}`, { cause: err });
    }
    throw invalid(file, `cannot be read: ${(err as Error).message}`, err);
  }
  digest?.add(file, bytes);
  return bytes.toString('utf8');
}

function readHeader(record: CsvRecord | undefined, file: string): string[] {
  if (record === undefined) throw invalid(file, 'is empty; it needs a header line naming the columns');
  const seen = new Set<string>();
  for (const name of record.cells) {
    if (seen.has(name)) throw invalid(file, `line 1: the header names column ${JSON.stringify(name)} twice`);
    seen.add(name);
  }
  return record.cells;
}

function resolveColumns(
  header: string[],
  file: string,
  labelColumn: string,
  ignoreColumns: readonly string[],
): { label: number; features: number[] } {
  for (const [role, name] of [['label_column', labelColumn], ...ignoreColumns.map((c) => ['ignore_columns', c])]) {
    if (!header.includes(name)) {
      throw invalid(file, `has no column ${JSON.stringify(name)} (${role}); its header has ${formatColumns(header)}`);
    }
  }
  const features = header.flatMap((name, c) => (name === labelColumn || ignoreColumns.includes(name) ? [] : [c]));
  if (features.length === 0) throw invalid(file, `has no feature columns besides the label and ignored columns`);
  return { label: header.indexOf(labelColumn), features };
}

function checkWidth(record: CsvRecord, header: string[], file: string): void {
  if (record.cells.length !== header.length) {
    throw invalid(file, `line ${record.line} has ${record.cells.length} cells but the header has ${header.length} columns`);
  }
}

function featureValue(cell: string, file: string, line: number, column: string): number {
  const value = DECIMAL.test(cell) ? Number(cell) : Number.NaN;
  if (!Number.isFinite(value)) {
    throw invalid(file, `line ${line}, column ${JSON.stringify(column)}: ${JSON.stringify(cell)} is not a finite number`);
  }
  return value;
}

/** A label cell names a class, or failing that is a whole-number class index. */
export function classLookup(classes: readonly string[], file: string): (cell: string, line: number) => number {
  const byName = new Map(classes.map((name, index) => [name, index]));
  return (cell, line) => {
    const named = byName.get(cell) ?? byName.get(cell.trim());
    if (named !== undefined) return named;
    const index = DECIMAL.test(cell) ? Number(cell) : Number.NaN;
    if (Number.isInteger(index) && index >= 0 && index < classes.length) return index;
    throw invalid(
      file,
      `line ${line}: label ${JSON.stringify(cell)} is neither a class name nor a class index 0..${classes.length - 1}; ` +
        `classes: ${formatColumns(classes)}`,
    );
  };
}

function formatColumns(names: readonly string[]): string {
  return names.map((n) => JSON.stringify(n)).join(', ');
}

function countLineBreaks(s: string): number {
  let count = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === LF || (c === CR && s.charCodeAt(i + 1) !== LF)) count++;
  }
  return count;
}

function invalid(file: string, problem: string, cause?: unknown): OodError {
  return new OodError('DATA_INVALID', `${file} ${problem}`, cause === undefined ? undefined : { cause });
}
