import { extname } from 'node:path';
import { OodError } from '../../errors.js';
import { csvRecords, readCsvText } from './csv.js';
import type { SourceDigest } from './labeled-data.js';

/** One labelled text and the line it starts on, for messages. */
export interface TextRecord {
  text: string;
  label: string;
  line: number;
}

export interface TextColumns {
  text: string;
  label: string;
}

/**
 * The texts and labels of a CSV file (with a header) or a JSON Lines file (one object per line),
 * by column or key name. A label may be a string or a number (a class index); a text must be a
 * string. Anything else is refused naming the line.
 */
export async function readTextRecords(file: string, columns: TextColumns, digest?: SourceDigest): Promise<TextRecord[]> {
  const content = await readCsvText(file, digest);
  const ext = extname(file).toLowerCase();
  if (ext === '.csv') return csvTextRecords(content, file, columns);
  if (ext === '.jsonl' || ext === '.ndjson') return jsonlTextRecords(content, file, columns);
  throw invalid(file, 'must be a .csv file with a header or a .jsonl file (one JSON object per line)');
}

function csvTextRecords(content: string, file: string, columns: TextColumns): TextRecord[] {
  const records = csvRecords(content, file);
  const header: string[] | undefined = records.next().value?.cells;
  if (!header) throw invalid(file, 'is empty; it needs a header line naming the columns');
  const at = (name: string, role: string) => {
    const index = header.indexOf(name);
    if (index < 0) throw invalid(file, `has no column ${JSON.stringify(name)} (${role}); its header has ${header.map((h) => JSON.stringify(h)).join(', ')}`);
    return index;
  };
  const textAt = at(columns.text, '--text-column');
  const labelAt = at(columns.label, '--label-column');
  const out: TextRecord[] = [];
  for (const { line, cells } of records) {
    if (cells.length !== header.length) throw invalid(file, `line ${line} has ${cells.length} cells but the header has ${header.length} columns`);
    out.push({ text: cells[textAt], label: cells[labelAt].trim(), line });
  }
  return out;
}

function jsonlTextRecords(content: string, file: string, columns: TextColumns): TextRecord[] {
  const out: TextRecord[] = [];
  const lines = content.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw invalid(file, `line ${line} is not JSON: ${(err as Error).message}`, err);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(file, `line ${line} is not a JSON object`);
    const record = value as Record<string, unknown>;
    const text = record[columns.text];
    const label = record[columns.label];
    if (typeof text !== 'string') throw invalid(file, `line ${line}: "${columns.text}" must be a string, got ${text === undefined ? 'nothing' : typeof text}`);
    if (typeof label !== 'string' && typeof label !== 'number') {
      throw invalid(file, `line ${line}: "${columns.label}" must be a class name or index, got ${label === undefined ? 'nothing' : typeof label}`);
    }
    out.push({ text, label: String(label).trim(), line });
  });
  return out;
}

function invalid(file: string, problem: string, cause?: unknown): OodError {
  return new OodError('DATA_INVALID', `${file} ${problem}`, cause === undefined ? undefined : { cause });
}

/**
 * Unlabelled texts, as OOD sets come: a .txt file with one text per line (blank lines skipped),
 * or a .jsonl file of objects with a "text" key.
 */
export async function readTextList(file: string): Promise<string[]> {
  const content = await readCsvText(file);
  const ext = extname(file).toLowerCase();
  const lines = content.split(/\r?\n/);
  if (ext === '.txt') return lines.filter((l) => l.trim() !== '');
  if (ext === '.jsonl' || ext === '.ndjson') {
    return lines.flatMap((raw, i) => {
      if (raw.trim() === '') return [];
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch (err) {
        throw invalid(file, `line ${i + 1} is not JSON: ${(err as Error).message}`, err);
      }
      const text = (value as { text?: unknown } | null)?.text;
      if (typeof text !== 'string') throw invalid(file, `line ${i + 1} has no "text" string`);
      return [text];
    });
  }
  throw invalid(file, 'must be a .txt file (one text per line) or a .jsonl file of {"text": ...} objects');
}
