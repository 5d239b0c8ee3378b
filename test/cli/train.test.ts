import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runOod } from './run-cli.js';

describe('ood train: per-epoch entanglement', () => {
  let modelsDir: string;

  before(async () => {
    modelsDir = await mkdtemp(join(tmpdir(), 'ood-train-cli-'));
  });
  after(async () => {
    await rm(modelsDir, { recursive: true, force: true });
  });

  it('records SNNL at the optimal temperature per hidden layer in history.csv and draws entanglement.svg', async () => {
    const run = await runOod([
      'train', '--data', 'mnist', '--out', 'tiny-mnist', '--hidden', '12,6', '--epochs', '2', '--batch-size', '256',
      '--entanglement-sample', '200', '--ef-search', 'input=128,hidden2=90', '--backend', 'wasm', '--models-dir', modelsDir,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, '', 'the training command prints no data');
    const dir = join(modelsDir, 'tiny-mnist');

    const [header, ...rows] = (await readFile(join(dir, 'history.csv'), 'utf8')).trim().split('\n');
    const columns = header.split(',');
    const opt = ['snnl_opt_hidden1', 'snnl_opt_hidden2', 'temperature_opt_hidden1', 'temperature_opt_hidden2'];
    for (const name of ['epoch', 'test_accuracy', 'snnl_hidden1', 'temperature_hidden2', ...opt]) assert.ok(columns.includes(name), name);
    assert.equal(rows.length, 2);
    for (const row of rows) {
      const cells = row.split(',');
      assert.equal(cells.length, columns.length);
      for (const name of opt) {
        const value = Number(cells[columns.indexOf(name)]);
        assert.ok(Number.isFinite(value) && value > 0, `${name} = ${cells[columns.indexOf(name)]}`);
      }
    }

    const svg = await readFile(join(dir, 'entanglement.svg'), 'utf8');
    assert.ok(svg.startsWith('<svg ') && svg.endsWith('</svg>\n'));
    assert.equal(svg.match(/<path /g)?.length, 2);
    assert.ok(svg.includes('>hidden1<') && svg.includes('>hidden2<'));
    assert.doesNotMatch(svg, /NaN/);
    const card = await readFile(join(dir, 'MODEL_CARD.md'), 'utf8');
    assert.match(card, /snnl_opt_\*.*entanglement\.svg.*200 training points/s);
    assert.match(card, /training time \| [\d.]+ s on the wasm backend, plus [\d.]+ s measuring entanglement after each epoch/);
    assert.ok((await stat(join(dir, 'weights.bin'))).size > 0);
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    assert.deepEqual(manifest.ef_search, { input: 128, hidden2: 90 });
  });

  it('refuses --ef-search for a layer it does not index, before training', async () => {
    const run = await runOod([
      'train', '--data', 'mnist', '--out', 'never', '--hidden', '12,6', '--ef-search', 'hidden3=100', '--backend', 'wasm', '--models-dir', modelsDir,
    ]);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /--ef-search names hidden3; the indexed layers are input, hidden1, hidden2/);
    await assert.rejects(stat(join(modelsDir, 'never')));
  });
});
