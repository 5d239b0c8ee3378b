import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadReferenceSet } from '../../src/reference/load-reference-set.js';
import { ReferenceSetManifestSchema } from '../../src/reference/manifest.js';
import { npyLabels, npyRows, parseNpy, readNpyPool } from '../../src/reference/sources/npy.js';
import { makeTempDir, npyBytes, npyHeader, oodError, writeManifest } from './fixtures.js';

const CLASSES = ['cat', 'dog', 'eel'];

describe('parseNpy', () => {
  const cases: [string, (number | bigint)[], number[]][] = [
    ['<f4', [0.5, -1.25, 3e-8, 1e30], [0.5, -1.25, Math.fround(3e-8), Math.fround(1e30)]],
    ['<f8', [0.1, -2.5, 1e-300, 7], [0.1, -2.5, 1e-300, 7]],
    ['|u1', [0, 1, 128, 255], [0, 1, 128, 255]],
    ['|i1', [-128, -1, 0, 127], [-128, -1, 0, 127]],
    ['<i1', [-5, 5, 0, 1], [-5, 5, 0, 1]],
    ['<i2', [-32768, -2, 300, 32767], [-32768, -2, 300, 32767]],
    ['<u2', [0, 1, 40000, 65535], [0, 1, 40000, 65535]],
    ['<i4', [-2147483648, -7, 0, 2147483647], [-2147483648, -7, 0, 2147483647]],
    ['<u4', [0, 3, 4000000000, 4294967295], [0, 3, 4000000000, 4294967295]],
    ['<i8', [-9n, 0n, 2n ** 40n, -(2n ** 50n)], [-9, 0, 2 ** 40, -(2 ** 50)]],
    ['<u8', [0n, 1n, 2n ** 40n, 2n ** 52n], [0, 1, 2 ** 40, 2 ** 52]],
    ['|b1', [1, 0, 0, 1], [1, 0, 0, 1]],
  ];
  for (const [dtype, stored, expected] of cases) {
    for (const version of [1, 2, 3] as const) {
      test(`round-trips ${dtype} with a version ${version}.0 header`, () => {
        const array = parseNpy(npyBytes(dtype, [2, 2], stored, { version }), 'x.npy');
        assert.equal(array.dtype, dtype);
        assert.deepEqual(array.shape, [2, 2]);
        assert.deepEqual(Array.from(array.values as ArrayLike<number | bigint>, Number), expected);
        const rows = npyRows(array, 'x.npy');
        assert.equal(rows.rows, 2);
        assert.equal(rows.cols, 2);
        assert.deepEqual(Array.from(rows.data), expected.map((v) => Math.fround(v)));
      });
    }
  }

  test('decodes fixed-width UTF-32 strings, dropping the NUL padding', () => {
    const array = parseNpy(npyBytes('<U4', [3], ['cat', 'eel', 'ü🐍'], { version: 3 }), 'l.npy');
    assert.deepEqual(array.values, ['cat', 'eel', 'ü🐍']);
  });

  test('flattens any row shape in C order, values kept as stored (no scaling)', () => {
    const values = Array.from({ length: 2 * 1 * 2 * 3 }, (_, i) => i * 10);
    const rows = npyRows(parseNpy(npyBytes('|u1', [2, 1, 2, 3], values), 'img.npy'), 'img.npy');
    assert.equal(rows.cols, 6);
    assert.deepEqual(Array.from(rows.data), values);
  });

  test('reads a payload that is not aligned for its element type', () => {
    const bytes = npyBytes('<f4', [3], [1.5, 2.5, -3]);
    const shifted = new Uint8Array(bytes.length + 1).subarray(1);
    shifted.set(bytes);
    assert.deepEqual(Array.from(parseNpy(shifted, 'odd.npy').values as Float32Array), [1.5, 2.5, -3]);
  });

  test('rejects a bad magic string', () => {
    const bytes = npyBytes('<f4', [1], [1]);
    bytes[1] = 0x4d;
    assert.throws(() => parseNpy(bytes, 'magic.npy'), oodError('DATA_INVALID', 'magic.npy', 'magic'));
    assert.throws(() => parseNpy(Buffer.from('{"a": 1}'), 'json.npy'), oodError('DATA_INVALID', 'json.npy', 'not a .npy file'));
  });

  test('rejects big-endian, object, structured and unknown dtypes', () => {
    const withDescr = (descr: string) => npyHeader(`{'descr': ${descr}, 'fortran_order': False, 'shape': (1,), }`);
    assert.throws(() => parseNpy(Buffer.concat([withDescr("'>f4'"), Buffer.alloc(4)]), 'be.npy'), oodError('DATA_INVALID', 'be.npy', '>f4', 'big-endian'));
    assert.throws(() => parseNpy(Buffer.concat([withDescr("'>U2'"), Buffer.alloc(8)]), 'beu.npy'), oodError('DATA_INVALID', 'beu.npy', 'big-endian'));
    assert.throws(() => parseNpy(Buffer.concat([withDescr("'|O'"), Buffer.alloc(8)]), 'obj.npy'), oodError('DATA_INVALID', 'obj.npy', '|O', 'object array'));
    assert.throws(() => parseNpy(Buffer.concat([withDescr("[('a', '<f4')]"), Buffer.alloc(4)]), 'rec.npy'), oodError('DATA_INVALID', 'rec.npy', 'structured'));
    assert.throws(() => parseNpy(Buffer.concat([withDescr("'<c8'"), Buffer.alloc(8)]), 'cplx.npy'), oodError('DATA_INVALID', 'cplx.npy', '<c8', 'supported: <f4'));
  });

  test('rejects Fortran order', () => {
    const bytes = npyBytes('<f4', [2, 2], [1, 2, 3, 4], { fortranOrder: true });
    assert.throws(() => parseNpy(bytes, 'f.npy'), oodError('DATA_INVALID', 'f.npy', 'Fortran'));
  });

  test('rejects a truncated payload, extra bytes and a truncated header', () => {
    const bytes = npyBytes('<f4', [2, 3], [1, 2, 3, 4, 5, 6]);
    assert.throws(
      () => parseNpy(bytes.subarray(0, bytes.length - 5), 'short.npy'),
      oodError('DATA_INVALID', 'short.npy', 'truncated', 'needs 24 data bytes, found 19'),
    );
    assert.throws(() => parseNpy(Buffer.concat([bytes, Buffer.from([0, 0])]), 'long.npy'), oodError('DATA_INVALID', 'long.npy', '2 bytes after the data'));
    assert.throws(() => parseNpy(bytes.subarray(0, 40), 'cut.npy'), oodError('DATA_INVALID', 'cut.npy', 'header'));
  });

  test('refuses NaN and infinities in data, naming the row', () => {
    assert.throws(() => npyRows(parseNpy(npyBytes('<f4', [3, 2], [0, 1, 2, 3, NaN, 5]), 'nan.npy'), 'nan.npy'), oodError('DATA_INVALID', 'nan.npy', 'row 2', 'NaN'));
    assert.throws(() => npyRows(parseNpy(npyBytes('<f8', [2, 2], [0, -Infinity, 2, 3]), 'inf.npy'), 'inf.npy'), oodError('DATA_INVALID', 'inf.npy', 'row 0', '-Infinity'));
    assert.throws(() => npyRows(parseNpy(npyBytes('<f8', [2, 1], [0, 1e300]), 'big.npy'), 'big.npy'), oodError('DATA_INVALID', 'big.npy', 'row 1', 'float32 range'));
    assert.throws(() => npyRows(parseNpy(npyBytes('<U2', [2], ['a', 'b']), 's.npy'), 's.npy'), oodError('DATA_INVALID', 's.npy', 'strings'));
  });
});

describe('npy labels', () => {
  const labelsOf = (dtype: string, shape: number[], values: (number | bigint | string)[]) =>
    Array.from(npyLabels(parseNpy(npyBytes(dtype, shape, values), 'y.npy'), 'y.npy', CLASSES));

  test('integers, whole floats and [N, 1] columns are class indices', () => {
    assert.deepEqual(labelsOf('|u1', [3], [2, 0, 1]), [2, 0, 1]);
    assert.deepEqual(labelsOf('<i8', [3, 1], [1n, 1n, 2n]), [1, 1, 2]);
    assert.deepEqual(labelsOf('<f8', [2], [2, 0]), [2, 0]);
  });

  test('strings map through the manifest classes', () => {
    assert.deepEqual(labelsOf('<U3', [4], ['eel', 'cat', 'dog', 'cat']), [2, 0, 1, 0]);
  });

  test('errors name the file, the row and the value', () => {
    assert.throws(() => labelsOf('<U3', [3], ['cat', 'cow', 'dog']), oodError('DATA_INVALID', 'y.npy', 'row 1', '"cow"', '"cat", "dog", "eel"'));
    assert.throws(() => labelsOf('<f4', [2], [1, 1.5]), oodError('DATA_INVALID', 'y.npy', 'row 1', '1.5', 'not a whole number'));
    assert.throws(() => labelsOf('<i4', [2], [0, 3]), oodError('DATA_INVALID', 'y.npy', 'row 1', 'label 3'));
    assert.throws(() => labelsOf('<i4', [2, 2], [0, 1, 2, 0]), oodError('DATA_INVALID', 'y.npy', '[2, 2]', '1-D'));
  });
});

describe('npy source', () => {
  let dir = '';
  let cleanup: () => Promise<void> = async () => {};
  before(async () => {
    ({ dir, cleanup } = await makeTempDir('npy'));
  });
  after(() => cleanup());

  test('a label count that differs from the data rows names both files and counts', async () => {
    const x = join(dir, 'mx.npy');
    const y = join(dir, 'my.npy');
    await writeFile(x, npyBytes('<f4', [3, 2], [1, 2, 3, 4, 5, 6]));
    await writeFile(y, npyBytes('|u1', [2], [0, 1]));
    await assert.rejects(readNpyPool(x, y, CLASSES), oodError('DATA_INVALID', x, y, '2 labels', '3 rows'));
  });

  test('a missing file is DATA_SOURCE_MISSING naming it', async () => {
    const y = join(dir, 'my.npy');
    await writeFile(y, npyBytes('|u1', [2], [0, 1]));
    await assert.rejects(readNpyPool(join(dir, 'absent.npy'), y, CLASSES), oodError('DATA_SOURCE_MISSING', join(dir, 'absent.npy')));
  });

  test('the manifest needs test_data and test_labels together', () => {
    const manifest = {
      name: 'n',
      description: 'd',
      labels: CLASSES,
      input_shape: [2],
      source: { kind: 'npy', data: 'x.npy', labels: 'y.npy', test_data: 'tx.npy' },
      split: { method: 'seeded-permutation', seed: 1, calibration: 1, train: 'rest', test: 'all' },
    };
    const parsed = ReferenceSetManifestSchema.safeParse(manifest);
    assert.equal(parsed.success, false);
    assert.match(JSON.stringify(parsed.error?.issues), /test_data and test_labels go together/);
  });

  test('loadReferenceSet splits an npy set with a test pair and string labels', async () => {
    const root = join(dir, 'sets');
    const setDir = join(root, 'toy');
    await mkdir(join(setDir, 'data'), { recursive: true });
    const rows = 10;
    const train = Array.from({ length: rows * 2 * 2 }, (_, i) => i - 3.5);
    await writeFile(join(setDir, 'data', 'x.npy'), npyBytes('<f4', [rows, 2, 2], train));
    await writeFile(join(setDir, 'data', 'y.npy'), npyBytes('<U3', [rows], Array.from({ length: rows }, (_, i) => CLASSES[i % 3])));
    await writeFile(join(setDir, 'data', 'tx.npy'), npyBytes('|u1', [2, 4], [0, 1, 2, 3, 250, 251, 252, 253]));
    await writeFile(join(setDir, 'data', 'ty.npy'), npyBytes('<i8', [2], [2n, 0n]));
    await writeManifest(root, {
      name: 'toy',
      description: 'npy fixture',
      labels: CLASSES,
      input_shape: [4],
      source: { kind: 'npy', data: 'data/x.npy', labels: 'data/y.npy', test_data: 'data/tx.npy', test_labels: 'data/ty.npy' },
      split: { method: 'seeded-permutation', seed: 3, calibration: 3, train: 'rest', test: 'all' },
    });

    const set = await loadReferenceSet(root, 'toy');
    assert.equal(set.train.x.rows, 7);
    assert.equal(set.calibration.x.rows, 3);
    // Every train and calibration row is a distinct source row, its values as stored, its label intact.
    const seen = new Set<number>();
    for (const part of [set.train, set.calibration]) {
      for (let r = 0; r < part.x.rows; r++) {
        const first = part.x.data[r * 4];
        const source = (first + 3.5) / 4;
        assert.ok(Number.isInteger(source) && source >= 0 && source < rows);
        seen.add(source);
        assert.deepEqual(Array.from(part.x.data.subarray(r * 4, r * 4 + 4)), train.slice(source * 4, source * 4 + 4));
        assert.equal(part.labels[r], source % 3);
      }
    }
    assert.equal(seen.size, rows);
    assert.deepEqual(Array.from(set.test.x.data), [0, 1, 2, 3, 250, 251, 252, 253]);
    assert.deepEqual(Array.from(set.test.labels), [2, 0]);

    // The fingerprint covers the data: a changed test label changes it.
    const before = set.fingerprint;
    await writeFile(join(setDir, 'data', 'ty.npy'), npyBytes('<i8', [2], [1n, 0n]));
    assert.notEqual((await loadReferenceSet(root, 'toy')).fingerprint, before);
  });
});
