import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import { OodError } from '../errors.js';
import type { ImagePreprocessing } from '../model/image-input.js';
import { readCsvSummary } from '../reference/sources/csv.js';
import { parseNpy } from '../reference/sources/npy.js';
import type { ReferenceSource } from '../reference/sources/registry.js';
import { readTextRecords } from '../reference/sources/text-records.js';

/**
 * `input_ids=ids.npy,attention_mask=mask.npy`: one .npy file per model input, or undefined when
 * the option names one path (which may itself contain "=" or ",", so an existing path wins).
 */
export async function perInputFiles(option: string): Promise<{ input: string; file: string }[] | undefined> {
  if (!/^[^=,]+=[^,]+(,[^=,]+=[^,]+)*$/.test(option)) return undefined;
  if (await stat(option).then(() => true, () => false)) return undefined;
  const files = option.split(',').map((pair) => {
    const at = pair.indexOf('=');
    return { input: pair.slice(0, at), file: resolve(pair.slice(at + 1)) };
  });
  if (new Set(files.map((f) => f.input)).size !== files.length) throw new OodError('CONFIG_INVALID', `${option}: names an input twice`);
  for (const { file } of files) {
    if (extname(file).toLowerCase() !== '.npy') throw new OodError('CONFIG_INVALID', `${file}: one file per input must be a .npy file`);
    await formatOf(file);
  }
  return files;
}

/** The data options of add-model, as given. */
export interface DataOptions {
  data: string;
  labels?: string;
  labelColumn?: string;
  classes?: string;
  testData?: string;
  testLabels?: string;
  ignoreColumns?: string[];
  /** The column (CSV) or key (JSON Lines) holding the text, for a text model. */
  textColumn?: string;
}

/** One file or folder to copy beside the reference-set manifest, and the name it gets there. */
export interface CopyStep {
  from: string;
  to: string;
}

export interface DataPlan {
  /** The manifest's `source` with paths as they will be once copied (relative) or referenced (absolute). */
  source: ReferenceSource;
  copies: CopyStep[];
  /** Class names in class-index order. */
  labels: string[];
  /** Where the class names came from, for messages and the card. */
  labelsFrom: string;
}

type DataFormat = 'npy' | 'csv' | 'jsonl' | 'image-folder';

async function formatOf(path: string): Promise<DataFormat> {
  let isDir: boolean;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch (err) {
    throw new OodError('DATA_SOURCE_MISSING', `data file not found: ${path}`, { cause: err });
  }
  if (isDir) return 'image-folder';
  const ext = extname(path).toLowerCase();
  if (ext === '.npy') return 'npy';
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new OodError('CONFIG_INVALID', `${path}: --data must be a .npy file, a .csv file, a .jsonl file (texts) or a folder of class folders of images`);
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new OodError('DATA_SOURCE_MISSING', `${what} not found: ${path}`, { cause: err });
  }
}

async function readClasses(path: string): Promise<string[]> {
  const names = (await readText(path, 'classes file')).split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  if (names.length < 2) throw new OodError('DATA_INVALID', `${path} lists ${names.length} class names; at least 2 are needed, one per line`);
  if (new Set(names).size !== names.length) throw new OodError('DATA_INVALID', `${path} lists a class name twice`);
  return names;
}

/**
 * Class names from the label values themselves: whole numbers are class indices, named "0".."C-1"
 * after the model's class count; any other values are names, sorted.
 */
function namesFromValues(values: readonly string[], modelClasses: number, from: string): string[] {
  const numeric = values.every((v) => /^-?\d+(\.0*)?$/.test(v.trim()));
  if (!numeric) return [...new Set(values)].sort();
  const max = Math.max(...values.map(Number));
  const min = Math.min(...values.map(Number));
  if (min < 0 || max >= modelClasses) {
    throw new OodError(
      'DATA_INVALID',
      `${from} has class indices ${min}..${max}, but the model outputs ${modelClasses} classes (0..${modelClasses - 1})`,
    );
  }
  return Array.from({ length: modelClasses }, (_, i) => String(i));
}

async function npyLabelValues(path: string): Promise<string[]> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new OodError('DATA_SOURCE_MISSING', `labels file not found: ${path}`, { cause: err });
  }
  const { values } = parseNpy(bytes, path);
  return Array.isArray(values) ? values : Array.from(values as ArrayLike<number | bigint>, (v) => String(v));
}

/**
 * Where the data are, in which format, and what the classes are called, from the options alone
 * (reading only labels, not the data). Each missing piece is refused naming the option.
 */
export async function planData(
  options: DataOptions,
  modelClasses: number,
  preprocessing: ImagePreprocessing | undefined,
  modelInputs: readonly string[] = [],
): Promise<DataPlan> {
  const perInput = await perInputFiles(options.data);
  if (perInput) return planPerInput(options, inModelOrder(perInput, modelInputs, '--data'), modelClasses, modelInputs);
  const data = resolve(options.data);
  const format = await formatOf(data);
  if (options.textColumn !== undefined || format === 'jsonl') return planText(options, data, modelClasses);
  const classes = options.classes ? await readClasses(resolve(options.classes)) : undefined;
  if ((options.testData === undefined) !== (options.testLabels === undefined) && format === 'npy') {
    throw new OodError('CONFIG_INVALID', '--test-data and --test-labels go together for .npy data');
  }
  const at = (p: string | undefined) => (p === undefined ? undefined : resolve(p));
  if (format === 'npy') {
    if (!options.labels) throw new OodError('CONFIG_INVALID', `${data}: .npy data need --labels FILE.npy`);
    const labelsFile = resolve(options.labels);
    const labels = classes ?? namesFromValues(await npyLabelValues(labelsFile), modelClasses, labelsFile);
    const copies: CopyStep[] = [
      { from: data, to: 'data.npy' },
      { from: labelsFile, to: 'labels.npy' },
    ];
    if (options.testData) copies.push({ from: resolve(options.testData), to: 'test_data.npy' }, { from: resolve(options.testLabels as string), to: 'test_labels.npy' });
    return {
      source: {
        kind: 'npy',
        data,
        labels: labelsFile,
        ...(options.testData ? { test_data: at(options.testData), test_labels: at(options.testLabels) } : {}),
      } as ReferenceSource,
      copies,
      labels,
      labelsFrom: options.classes ? resolve(options.classes) : labelsFile,
    };
  }
  if (format === 'csv') {
    if (!options.labelColumn) throw new OodError('CONFIG_INVALID', `${data}: CSV data need --label-column COLUMN`);
    const summary = await readCsvSummary(data, options.labelColumn, options.ignoreColumns ?? []);
    const labels = classes ?? namesFromValues(summary.labelValues, modelClasses, `column "${options.labelColumn}" of ${data}`);
    const copies: CopyStep[] = [{ from: data, to: 'table.csv' }];
    if (options.testData) copies.push({ from: resolve(options.testData), to: 'test_table.csv' });
    return {
      source: {
        kind: 'csv',
        file: data,
        label_column: options.labelColumn,
        ...(options.testData ? { test_file: at(options.testData) } : {}),
        ...(options.ignoreColumns?.length ? { ignore_columns: options.ignoreColumns } : {}),
      } as ReferenceSource,
      copies,
      labels,
      labelsFrom: options.classes ? resolve(options.classes) : `column "${options.labelColumn}" of ${data}`,
    };
  }
  if (!preprocessing) {
    throw new OodError('CONFIG_INVALID', `${data} is a folder of images, but the model's input is not an image ([channels, height, width] or [height, width, channels])`);
  }
  const folders = (await readdir(data, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  const labels = classes ?? [...folders].sort();
  const copies: CopyStep[] = [{ from: data, to: 'images' }];
  if (options.testData) copies.push({ from: resolve(options.testData), to: 'test_images' });
  return {
    source: {
      kind: 'image-folder',
      dir: data,
      ...(options.testData ? { test_dir: at(options.testData) } : {}),
      preprocessing,
    } as ReferenceSource,
    copies,
    labels,
    labelsFrom: options.classes ? resolve(options.classes) : `the class folders of ${data}`,
  };
}

/** Labelled texts in a CSV or JSON Lines file, read with the model's tokenizer. */
async function planText(options: DataOptions, data: string, modelClasses: number): Promise<DataPlan> {
  if (!options.textColumn) throw new OodError('CONFIG_INVALID', `${data}: texts need --text-column NAME (the column or key holding the text)`);
  if (!options.labelColumn) throw new OodError('CONFIG_INVALID', `${data}: texts need --label-column NAME`);
  const format = await formatOf(data);
  if (format !== 'csv' && format !== 'jsonl') throw new OodError('CONFIG_INVALID', `${data}: texts come as a .csv or .jsonl file`);
  const columns = { text: options.textColumn, label: options.labelColumn };
  const records = await readTextRecords(data, columns);
  if (records.length === 0) throw new OodError('DATA_INVALID', `${data} holds no texts`);
  const from = `"${options.labelColumn}" of ${data}`;
  const labels = options.classes ? await readClasses(resolve(options.classes)) : namesFromValues(records.map((r) => r.label), modelClasses, from);
  const ext = extname(data).toLowerCase();
  const copies: CopyStep[] = [{ from: data, to: `texts${ext}` }];
  const testFile = options.testData === undefined ? undefined : resolve(options.testData);
  if (testFile) copies.push({ from: testFile, to: `test_texts${extname(testFile).toLowerCase()}` });
  return {
    source: {
      kind: 'text',
      file: data,
      text_column: options.textColumn,
      label_column: options.labelColumn,
      ...(testFile ? { test_file: testFile } : {}),
    } as ReferenceSource,
    copies,
    labels,
    labelsFrom: options.classes ? resolve(options.classes) : from,
  };
}

/** One .npy file per model input, for the data and (optionally) the test data. */
async function planPerInput(options: DataOptions, files: { input: string; file: string }[], modelClasses: number, modelInputs: readonly string[]): Promise<DataPlan> {
  if (!options.labels) throw new OodError('CONFIG_INVALID', `--data ${options.data}: .npy data need --labels FILE.npy`);
  const given = options.testData === undefined ? undefined : await perInputFiles(options.testData);
  if (options.testData !== undefined) {
    if (!given) throw new OodError('CONFIG_INVALID', `--test-data ${options.testData}: with one file per input for --data, give one per input here too (input=file.npy,...)`);
    if (options.testLabels === undefined) throw new OodError('CONFIG_INVALID', '--test-data and --test-labels go together for .npy data');
  }
  const testFiles = given ? inModelOrder(given, modelInputs, '--test-data') : undefined;
  const labelsFile = resolve(options.labels);
  const labels = options.classes ? await readClasses(resolve(options.classes)) : namesFromValues(await npyLabelValues(labelsFile), modelClasses, labelsFile);
  const copies: CopyStep[] = [...files.map((f, i) => ({ from: f.file, to: `data_${i}.npy` })), { from: labelsFile, to: 'labels.npy' }];
  if (testFiles) copies.push(...testFiles.map((f, i) => ({ from: f.file, to: `test_data_${i}.npy` })), { from: resolve(options.testLabels as string), to: 'test_labels.npy' });
  return {
    source: {
      kind: 'npy',
      data: files,
      labels: labelsFile,
      ...(testFiles ? { test_data: testFiles, test_labels: resolve(options.testLabels as string) } : {}),
    } as ReferenceSource,
    copies,
    labels,
    labelsFrom: options.classes ? resolve(options.classes) : labelsFile,
  };
}

/**
 * One file per input, in the model's input order: the rows are packed in that order, and two
 * inputs of one width (ids and mask) would otherwise be swapped without a word.
 */
function inModelOrder(files: { input: string; file: string }[], modelInputs: readonly string[], option: string): { input: string; file: string }[] {
  const takes = `the model's inputs are ${modelInputs.join(', ')}`;
  const unknown = files.filter((f) => !modelInputs.includes(f.input));
  if (unknown.length > 0) throw new OodError('CONFIG_INVALID', `${option} names ${unknown.map((f) => `"${f.input}"`).join(', ')}; ${takes}`);
  const missing = modelInputs.filter((name) => !files.some((f) => f.input === name));
  if (missing.length > 0) throw new OodError('CONFIG_INVALID', `${option} gives no file for ${missing.join(', ')}; ${takes}`);
  return modelInputs.map((name) => files.find((f) => f.input === name) as { input: string; file: string });
}

/** The same source, pointing at the copies beside the manifest. */
export function copiedSource(plan: DataPlan): ReferenceSource {
  const renamed = new Map(plan.copies.map((c) => [c.from, c.to]));
  const rename = (value: unknown): unknown => {
    if (typeof value === 'string') return renamed.get(value) ?? value;
    // One file per input: [{input, file}]. Other lists (CSV column names) are not paths.
    if (Array.isArray(value)) return value.map((v: unknown) => (typeof v === 'object' && v !== null && 'file' in v ? { ...v, file: rename(v.file) } : v));
    return value;
  };
  return Object.fromEntries(Object.entries(plan.source).map(([key, value]) => [key, key === 'kind' ? value : rename(value)])) as ReferenceSource;
}

export const describeData = (plan: DataPlan) => `${plan.source.kind} (${plan.copies.map((c) => basename(c.from)).join(', ')})`;
