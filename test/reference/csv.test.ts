import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadReferenceSet } from '../../src/reference/load-reference-set.js';
import { csvRecords, parseCsvPool, readCsvSummary, summarizeCsv } from '../../src/reference/sources/csv.js';
import { makeTempDir, oodError, writeManifest } from './fixtures.js';

const CLASSES = ['setosa', 'versicolor', 'virginica'];
const records = (text: string) => Array.from(csvRecords(text, 'f.csv'), (r) => [r.line, ...r.cells]);
const pool = (text: string, options: { labelColumn?: string; ignoreColumns?: string[] } = {}) =>
  parseCsvPool(text, 'f.csv', { labelColumn: options.labelColumn ?? 'species', ignoreColumns: options.ignoreColumns, classes: CLASSES }).pool;

describe('CSV records', () => {
  test('quoted fields hold commas, doubled quotes and line breaks', () => {
    assert.deepEqual(records('a,b,c\n"x, y","say ""hi""",3\n"multi\nline",,""\n4,5,6'), [
      [1, 'a', 'b', 'c'],
      [2, 'x, y', 'say "hi"', '3'],
      [3, 'multi\nline', '', ''],
      [5, '4', '5', '6'],
    ]);
  });

  test('CRLF, a final newline, trailing blank lines and a byte-order mark are handled', () => {
    assert.deepEqual(records('\ufeffa,b\r\n1,2\r\n3,4\r\n\r\n\n'), [
      [1, 'a', 'b'],
      [2, '1', '2'],
      [3, '3', '4'],
    ]);
    assert.deepEqual(records('a,b\n1,2'), [
      [1, 'a', 'b'],
      [2, '1', '2'],
    ]);
  });

  test('an unclosed quote and text after a closing quote name the line', () => {
    assert.throws(() => records('a,b\n1,2\n"3,4\n'), oodError('DATA_INVALID', 'f.csv', 'line 3', 'never closed'));
    assert.throws(() => records('a,b\n"1"x,2\n'), oodError('DATA_INVALID', 'f.csv', 'line 2', 'after a closing quote'));
  });
});

describe('CSV pool', () => {
  const text = 'id,sepal,petal,species\r\n7,1.5,-2e-1,versicolor\r\n8,"3",4,0\r\n9,.5,+6,"virginica"\r\n';

  test('features are the other columns in header order; labels by name or by index', () => {
    const p = pool(text, { ignoreColumns: ['id'] });
    assert.equal(p.size, 3);
    assert.equal(p.cols, 2);
    assert.deepEqual(Array.from(p.labels), [1, 0, 2]);
    assert.deepEqual(Array.from(p.take().x.data), [1.5, -0.2, 3, 4, 0.5, 6].map(Math.fround));
    assert.deepEqual(Array.from(p.take([2]).x.data), [0.5, 6]);
  });

  test('without ignore_columns every non-label column is a feature', () => {
    const p = pool('species,a,b\nsetosa,1,2\n', {});
    assert.equal(p.cols, 2);
    assert.deepEqual(Array.from(p.take().x.data), [1, 2]);
    assert.equal(pool(text).cols, 3);
  });

  test('a class named like a number is taken by name before by index', () => {
    const p = parseCsvPool('y,x\n1,0\n0,0\n2,0\n', 'n.csv', { labelColumn: 'y', classes: ['2', '1', '0'] }).pool;
    assert.deepEqual(Array.from(p.labels), [1, 2, 0]);
  });

  test('bad feature cells name the line, the column and the value', () => {
    for (const bad of ['', 'NaN', 'inf', 'Infinity', 'abc', '0x1f', '1e999', '1,5']) {
      const csv = `a,b,species\n1,2,setosa\n3,"${bad}",setosa\n`;
      assert.throws(() => pool(csv), oodError('DATA_INVALID', 'f.csv', 'line 3', 'column "b"', JSON.stringify(bad)), bad);
    }
  });

  test('unknown labels name the line and value and list the classes', () => {
    assert.throws(() => pool('a,species\n1,setosa\n2,rose\n'), oodError('DATA_INVALID', 'f.csv', 'line 3', '"rose"', '"setosa", "versicolor", "virginica"'));
    assert.throws(() => pool('a,species\n1,3\n'), oodError('DATA_INVALID', 'f.csv', 'line 2', '"3"', '0..2'));
    assert.throws(() => pool('a,species\n1,1.5\n'), oodError('DATA_INVALID', 'f.csv', 'line 2', '"1.5"'));
  });

  test('a missing label or ignored column lists the header', () => {
    assert.throws(() => pool('a,b\n1,2\n'), oodError('DATA_INVALID', 'f.csv', '"species"', 'label_column', '"a", "b"'));
    assert.throws(() => pool('a,species\n1,setosa\n', { ignoreColumns: ['id'] }), oodError('DATA_INVALID', 'f.csv', '"id"', 'ignore_columns', '"a", "species"'));
  });

  test('a row with the wrong number of cells names its line', () => {
    assert.throws(() => pool('a,b,species\n1,2,setosa\n1,setosa\n'), oodError('DATA_INVALID', 'f.csv', 'line 3', '2 cells', '3 columns'));
    assert.throws(() => pool('a,b,species\n1,2,setosa\n\n3,4,setosa\n'), oodError('DATA_INVALID', 'f.csv', 'line 3', '1 cells'));
  });

  test('an empty file, a header alone and a duplicated column are refused', () => {
    assert.throws(() => pool(''), oodError('DATA_INVALID', 'f.csv', 'empty'));
    assert.throws(() => pool('a,species\n'), oodError('DATA_INVALID', 'f.csv', 'no data rows'));
    assert.throws(() => pool('a,a,species\n1,2,setosa\n'), oodError('DATA_INVALID', 'f.csv', '"a" twice'));
  });

  test('summarizeCsv lists feature columns and distinct label values in first-seen order', () => {
    assert.deepEqual(summarizeCsv(text, 'f.csv', 'species', ['id']), {
      header: ['id', 'sepal', 'petal', 'species'],
      featureColumns: ['sepal', 'petal'],
      labelValues: ['versicolor', '0', 'virginica'],
      rows: 3,
    });
  });
});

describe('CSV source', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => {};
  before(async () => {
    ({ dir, cleanup } = await makeTempDir('csv'));
  });
  after(() => cleanup());

  const header = 'id,f1,f2,label';
  /** A set of train.csv and test.csv beside its manifest, the id column left out. */
  const trainTestManifest = (name: string) => ({
    name,
    description: 'csv fixture',
    labels: CLASSES,
    input_shape: [2],
    source: { kind: 'csv', file: 'train.csv', test_file: 'test.csv', label_column: 'label', ignore_columns: ['id'] },
    split: { method: 'seeded-permutation', seed: 5, calibration: 2, train: 'rest', test: 'all' },
  });
  const rowsOf = (n: number, offset: number) =>
    Array.from({ length: n }, (_, i) => `${offset + i},${offset + i},${(offset + i) * 0.5},${CLASSES[(offset + i) % 3]}`).join('\n');

  test('loadReferenceSet reads a train file and a test file', async () => {
    const root = join(dir, 'sets');
    const setDir = await writeManifest(root, trainTestManifest('iris'));
    await writeFile(join(setDir, 'train.csv'), `${header}\n${rowsOf(8, 0)}\n`);
    await writeFile(join(setDir, 'test.csv'), `${header}\r\n${rowsOf(3, 100)}`);

    const set = await loadReferenceSet(root, 'iris');
    assert.equal(set.train.x.rows, 6);
    assert.equal(set.calibration.x.rows, 2);
    const sources = new Set<number>();
    for (const part of [set.train, set.calibration]) {
      for (let r = 0; r < part.x.rows; r++) {
        const source = part.x.data[r * 2];
        sources.add(source);
        assert.equal(part.x.data[r * 2 + 1], source * 0.5);
        assert.equal(part.labels[r], source % 3);
      }
    }
    assert.deepEqual([...sources].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(Array.from(set.test.x.data), [100, 50, 101, 50.5, 102, 51]);
    assert.deepEqual(Array.from(set.test.labels), [1, 2, 0]);
  });

  test('a test file with another header names both files', async () => {
    const root = join(dir, 'sets');
    const setDir = await writeManifest(root, trainTestManifest('iris2'));
    await writeFile(join(setDir, 'train.csv'), `${header}\n${rowsOf(8, 0)}\n`);
    await writeFile(join(setDir, 'test.csv'), `id,f2,f1,label\n${rowsOf(3, 100)}`);
    await assert.rejects(
      loadReferenceSet(root, 'iris2'),
      oodError('DATA_INVALID', join(setDir, 'test.csv'), join(setDir, 'train.csv'), '"f2", "f1"', 'must match'),
    );
  });

  test('a missing file is DATA_SOURCE_MISSING; readCsvSummary reads from disk', async () => {
    await assert.rejects(readCsvSummary(join(dir, 'nope.csv'), 'label'), oodError('DATA_SOURCE_MISSING', join(dir, 'nope.csv')));
    const file = join(dir, 'summary.csv');
    await writeFile(file, `${header}\n${rowsOf(4, 0)}\n`);
    const summary = await readCsvSummary(file, 'label', ['id']);
    assert.deepEqual(summary.featureColumns, ['f1', 'f2']);
    assert.deepEqual(summary.labelValues, ['setosa', 'versicolor', 'virginica']);
    assert.equal(summary.rows, 4);
  });
});
