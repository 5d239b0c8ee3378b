import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCsvEmbeddings, parseEmbeddings, parseJsonEmbeddings, parseLabels } from '../../src/analysis/embeddings-file.js';
import { isOodError } from '../fixtures/assertions.js';

describe('parseEmbeddings', () => {
  it('reads a JSON array of rows into a float64 matrix', () => {
    const m = parseEmbeddings(' [[1, 2.5], [-3e2, 0]]\n', 'e.json');
    assert.deepEqual([m.rows, m.cols], [2, 2]);
    assert.ok(m.data instanceof Float64Array);
    assert.deepEqual([...m.data], [1, 2.5, -300, 0]);
  });

  it('keeps every float64 digit', () => {
    const value = 0.1 + 0.2;
    assert.equal(parseJsonEmbeddings(JSON.stringify([[value], [1]]), 'e').data[0], value);
    assert.equal(parseCsvEmbeddings(`${value}\n1\n`, 'e').data[0], value);
  });

  it('reads CSV without a header', () => {
    const m = parseEmbeddings('1,2,3\n4,5,6\n', 'e.csv');
    assert.deepEqual([m.rows, m.cols, ...m.data], [2, 3, 1, 2, 3, 4, 5, 6]);
  });

  it('skips a header row, blank lines, CRLF and spaces around cells', () => {
    const m = parseEmbeddings('x, y\r\n\r\n 1 , 2\r\n.5,-1e-3\r\n\r\n', 'e.csv');
    assert.deepEqual([m.rows, m.cols, ...m.data], [2, 2, 1, 2, 0.5, -0.001]);
  });

  it('rejects ragged rows, naming the row or line', () => {
    assert.throws(() => parseEmbeddings('[[1, 2], [3]]', 'e.json'), isOodError('DATA_INVALID', 'e.json', 'row 1 has 1 values', 'ragged'));
    assert.throws(() => parseEmbeddings('a,b\n1,2\n3\n', 'e.csv'), isOodError('DATA_INVALID', 'line 3 has 1 values', 'ragged'));
  });

  it('rejects non-finite values in both formats', () => {
    assert.throws(() => parseEmbeddings('[[1], [null]]', 'e'), isOodError('DATA_INVALID', 'row 1, column 0 is null'));
    assert.throws(() => parseEmbeddings('[[1], [1e400]]', 'e'), isOodError('DATA_INVALID', 'non-finite'));
    for (const token of ['NaN', 'inf', '-Infinity', '1e400']) {
      assert.throws(() => parseEmbeddings(`1,2\n3,${token}\n`, 'e'), isOodError('DATA_INVALID', 'line 2, column 2 is a non-finite value'));
    }
  });

  it('a first row of NaN is an error, not a header', () => {
    assert.throws(() => parseEmbeddings('NaN,1\n2,3\n', 'e'), isOodError('DATA_INVALID', 'line 1, column 1 is a non-finite value'));
  });

  it('rejects cells that are not plain numbers', () => {
    assert.throws(() => parseEmbeddings('1,2\n3,0x10\n', 'e'), isOodError('DATA_INVALID', 'line 2, column 2 is not a number: "0x10"'));
    assert.throws(() => parseEmbeddings('1,2\n3,\n', 'e'), isOodError('DATA_INVALID', 'line 2, column 2 is not a number: ""'));
    assert.throws(() => parseEmbeddings('[[1], ["2"]]', 'e'), isOodError('DATA_INVALID', 'row 1, column 0 is not a number'));
    assert.throws(() => parseEmbeddings('[[1], 2]', 'e'), isOodError('DATA_INVALID', 'row 1 is not an array'));
    assert.throws(() => parseEmbeddings('[1, 2]', 'e'), isOodError('DATA_INVALID', 'row 0 is not a non-empty array'));
    assert.throws(() => parseEmbeddings('[[1], [2]', 'e'), isOodError('DATA_INVALID', 'not valid JSON'));
  });

  it('rejects empty input', () => {
    assert.throws(() => parseEmbeddings('[]', 'e'), isOodError('DATA_INVALID', 'no embeddings'));
    assert.throws(() => parseEmbeddings('', 'e'), isOodError('DATA_INVALID', 'no embeddings'));
    assert.throws(() => parseEmbeddings('a,b\n', 'e'), isOodError('DATA_INVALID', 'no embeddings'));
  });
});

describe('parseLabels', () => {
  it('reads a JSON array of integers, negative ones too', () => {
    assert.deepEqual([...parseLabels('[0, 3, -1, 7]', 'l')], [0, 3, -1, 7]);
  });

  it('rejects anything else', () => {
    assert.throws(() => parseLabels('{"a": 1}', 'l.json'), isOodError('DATA_INVALID', 'l.json', 'expected a JSON array of integers'));
    assert.throws(() => parseLabels('[0, 1.5]', 'l'), isOodError('DATA_INVALID', 'label 1 is not an integer: 1.5'));
    assert.throws(() => parseLabels('[0, "1"]', 'l'), isOodError('DATA_INVALID', 'label 1 is not an integer: "1"'));
    assert.throws(() => parseLabels('[0, 3000000000]', 'l'), isOodError('DATA_INVALID', 'label 1 is not an integer'));
    assert.throws(() => parseLabels('[0, null]', 'l'), isOodError('DATA_INVALID', 'label 1 is not an integer: null'));
  });
});
