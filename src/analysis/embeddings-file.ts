import { OodError } from '../errors.js';
import type { Matrix } from '../math/matrix.js';

/**
 * Parsing of the entanglement command's inputs: embeddings as a JSON array of equal-length
 * number arrays or as CSV, labels as a JSON array of integers. Pure: the caller reads the file
 * and passes its text with a name for the messages.
 */

/** A plain decimal number. Number() alone would also take '', '0x1f' and ' 1 '. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
/** Spellings of non-finite values that tools write into CSV: an error, not a header. */
const NON_FINITE = /^[+-]?(nan|inf|infinity)$/i;

function invalid(source: string, message: string): OodError {
  return new OodError('DATA_INVALID', `${source}: ${message}`);
}

/** JSON when the text starts with '[', CSV otherwise. */
export function parseEmbeddings(text: string, source: string): Matrix {
  return text.trimStart().startsWith('[') ? parseJsonEmbeddings(text, source) : parseCsvEmbeddings(text, source);
}

export function parseJsonEmbeddings(text: string, source: string): Matrix {
  const parsed = parseJson(text, source);
  if (!Array.isArray(parsed)) throw invalid(source, 'expected a JSON array of number arrays');
  const rows = parsed.length;
  if (rows === 0) throw invalid(source, 'no embeddings');
  const first: unknown = parsed[0];
  if (!Array.isArray(first) || first.length === 0) throw invalid(source, 'row 0 is not a non-empty array of numbers');
  const cols = first.length;
  const data = new Float64Array(rows * cols);
  parsed.forEach((entry: unknown, r) => {
    if (!Array.isArray(entry)) throw invalid(source, `row ${r} is not an array`);
    if (entry.length !== cols) throw invalid(source, `row ${r} has ${entry.length} values, row 0 has ${cols} (ragged rows)`);
    entry.forEach((value: unknown, c) => {
      // JSON.stringify writes NaN and Infinity as null, so null is reported as non-finite.
      if (value === null) throw invalid(source, `row ${r}, column ${c} is null (a non-finite value?)`);
      if (typeof value !== 'number') throw invalid(source, `row ${r}, column ${c} is not a number: ${JSON.stringify(value)}`);
      // JSON.parse turns 1e999 into Infinity.
      if (!Number.isFinite(value)) throw invalid(source, `row ${r}, column ${c} is a non-finite value`);
      data[r * cols + c] = value;
    });
  });
  return { data, rows, cols };
}

/**
 * Comma-separated numbers, one row per line; blank lines are ignored. The first row is a
 * header, and skipped, when one of its cells is not a number.
 */
export function parseCsvEmbeddings(text: string, source: string): Matrix {
  const lines = text.split(/\r?\n/).map((line, i) => ({ line: i + 1, cells: line.split(',').map((c) => c.trim()) }));
  const rowsText = lines.filter((l) => !(l.cells.length === 1 && l.cells[0] === ''));
  if (rowsText.length > 0 && rowsText[0].cells.some((c) => !DECIMAL.test(c) && !NON_FINITE.test(c))) rowsText.shift();
  if (rowsText.length === 0) throw invalid(source, 'no embeddings');
  const cols = rowsText[0].cells.length;
  const data = new Float64Array(rowsText.length * cols);
  rowsText.forEach(({ line, cells }, r) => {
    if (cells.length !== cols) {
      throw invalid(source, `line ${line} has ${cells.length} values, the first data row has ${cols} (ragged rows)`);
    }
    cells.forEach((cell, c) => {
      if (NON_FINITE.test(cell)) throw invalid(source, `line ${line}, column ${c + 1} is a non-finite value: ${cell}`);
      if (!DECIMAL.test(cell)) throw invalid(source, `line ${line}, column ${c + 1} is not a number: ${JSON.stringify(cell)}`);
      const value = Number(cell);
      if (!Number.isFinite(value)) throw invalid(source, `line ${line}, column ${c + 1} is a non-finite value: ${cell}`);
      data[r * cols + c] = value;
    });
  });
  return { data, rows: rowsText.length, cols };
}

/** A JSON array of integers (class ids; any int32 value, not only 0..classes-1). */
export function parseLabels(text: string, source: string): Int32Array {
  const parsed = parseJson(text, source);
  if (!Array.isArray(parsed)) throw invalid(source, 'expected a JSON array of integers');
  const labels = new Int32Array(parsed.length);
  parsed.forEach((value: unknown, i) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || Math.abs(value) > 2 ** 31 - 1) {
      throw invalid(source, `label ${i} is not an integer: ${JSON.stringify(value)}`);
    }
    labels[i] = value;
  });
  return labels;
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalid(source, `not valid JSON: ${(err as Error).message}`);
  }
}
