import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRng, gaussian } from '../../src/math/random.js';
import { findPython, runOod, runProcess } from './run-cli.js';

/**
 * The entanglement command against test/fixtures/snnl_reference.py, an independent float64
 * implementation written from docs/design.md §1. The data are generated here, from seeds the
 * implementation's own tests never use.
 */

const PYTHON = findPython();
const PYTHON_SKIP = PYTHON.skip;
if (PYTHON_SKIP) process.stderr.write(`# skipping the Python reference comparisons: ${PYTHON_SKIP}\n`);

interface Dataset {
  x: number[][];
  labels: number[];
}

interface Output {
  snnl: number;
  temperature: number;
  distance: string;
  points: number;
  skipped_anchors: number;
}

/** Gaussian clusters, one per class, whose centres sit `separation` standard deviations apart. */
function clusters(opts: { seed: number; rows: number; dims: number; classes: number; separation: number; scale: number }): Dataset {
  const rng = createRng(opts.seed);
  const centres = Array.from({ length: opts.classes }, () => Array.from({ length: opts.dims }, () => opts.separation * gaussian(rng)));
  const labels = Array.from({ length: opts.rows }, (_, i) => i % opts.classes);
  const x = labels.map((y) => centres[y].map((c) => opts.scale * (c + gaussian(rng))));
  return { x, labels };
}

/** The SNNL of the Python reference at each temperature. */
async function reference(data: Dataset, temperatures: number[], distance: string): Promise<{ snnl: number[]; skipped_anchors: number }> {
  const request = JSON.stringify({ ...data, temperatures, distance });
  const run = await runProcess(PYTHON.executable ?? 'python3', ['test/fixtures/snnl_reference.py'], request);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as { snnl: number[]; skipped_anchors: number };
}

/**
 * 1e-4 relative, as the issue asks; the 1e-12 absolute floor is for values near 0, where
 * log(1 + tiny) keeps only a few digits in any float64 implementation.
 */
function assertAgrees(actual: number, expected: number, what: string): void {
  assert.ok(Number.isFinite(actual), `${what}: ${actual} is not finite`);
  assert.ok(Math.abs(actual - expected) <= 1e-4 * Math.abs(expected) + 1e-12, `${what}: command ${actual}, reference ${expected}`);
}

describe('the Python reference itself', () => {
  it('reproduces hand-computed values, skipping a classless anchor and surviving huge distances', { skip: PYTHON_SKIP }, async () => {
    // d01 = 1, d02 = 9, d12 = 4; anchor 2 has no classmate:
    // anchor 0 gives log(1 + e^-8), anchor 1 gives log(1 + e^-3).
    const small = await reference({ x: [[0], [1], [3]], labels: [0, 0, 1] }, [1], 'euclidean');
    assert.equal(small.skipped_anchors, 1);
    assertAgrees(small.snnl[0], (Math.log1p(Math.exp(-8)) + Math.log1p(Math.exp(-3))) / 2, 'three points');
    // Each classmate is 1e6 away, the nearest stranger 1: every term is 1e6 - 1 (+ e^-999999).
    const huge = await reference({ x: [[0], [1], [1000], [1001]], labels: [0, 1, 0, 1] }, [1, 2], 'euclidean');
    assert.deepEqual(huge.snnl, [1e6 - 1, (1e6 - 1) / 2]);
    // (1,0), (2,0) share a direction; (0,3) is orthogonal to all; (-1,0) is opposite the first two.
    const cosine = await reference({ x: [[1, 0], [2, 0], [0, 3], [-1, 0]], labels: [0, 0, 1, 1] }, [1], 'cosine');
    const expected = (2 * Math.log(1 + Math.exp(-1) + Math.exp(-2)) + Math.log(3) + Math.log(1 + 2 * Math.exp(-1))) / 4;
    assertAgrees(cosine.snnl[0], expected, 'cosine');
  });
});

describe('ood entanglement: embeddings and labels files', { concurrency: 2 }, () => {
  let dir: string;
  let fileCount = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ood-entanglement-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function files(embeddings: unknown, labels: unknown, ext = 'json'): Promise<[string, string]> {
    fileCount++;
    const e = join(dir, `embeddings-${fileCount}.${ext}`);
    const l = join(dir, `labels-${fileCount}.json`);
    await writeFile(e, typeof embeddings === 'string' ? embeddings : JSON.stringify(embeddings));
    await writeFile(l, typeof labels === 'string' ? labels : JSON.stringify(labels));
    return [e, l];
  }

  async function entanglement(data: Dataset, flags: string[]): Promise<Output> {
    const [e, l] = await files(data.x, data.labels);
    const run = await runOod(['entanglement', '--embeddings', e, '--labels', l, ...flags]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '', 'nothing on stderr when all is well');
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines.length, 1, `one JSON object on stdout, got ${run.stdout}`);
    return JSON.parse(lines[0]) as Output;
  }

  const cases: { name: string; data: Dataset; distance: 'euclidean' | 'cosine'; fixed: number; singletons?: number }[] = [
    {
      name: '24 points in 2-d, 3 overlapping classes',
      data: clusters({ seed: 9001, rows: 24, dims: 2, classes: 3, separation: 1, scale: 1 }),
      distance: 'euclidean',
      fixed: 0.5,
    },
    {
      name: '90 points in 16-d, 5 classes',
      data: clusters({ seed: 9002, rows: 90, dims: 16, classes: 5, separation: 0.6, scale: 1 }),
      distance: 'euclidean',
      fixed: 20,
    },
    {
      // Squared distances ~1e8: at T = 1 every exp(-d/T) underflows unless shifted first.
      name: 'huge distances, points ~1e4 apart',
      data: clusters({ seed: 9003, rows: 40, dims: 3, classes: 2, separation: 0.8, scale: 1e4 }),
      distance: 'euclidean',
      fixed: 1,
    },
    {
      name: 'tiny distances, points ~1e-3 apart',
      data: clusters({ seed: 9004, rows: 50, dims: 5, classes: 4, separation: 0.7, scale: 1e-3 }),
      distance: 'euclidean',
      fixed: 1e-5,
    },
    {
      name: 'a class with a single member',
      data: (() => {
        const d = clusters({ seed: 9005, rows: 30, dims: 4, classes: 3, separation: 0.8, scale: 1 });
        return { x: [...d.x, [0.1, -0.2, 0.3, 0.05]], labels: [...d.labels, 7] };
      })(),
      distance: 'euclidean',
      fixed: 2,
      singletons: 1,
    },
    {
      name: 'cosine distance',
      data: clusters({ seed: 9006, rows: 60, dims: 8, classes: 3, separation: 0.5, scale: 3 }),
      distance: 'cosine',
      fixed: 0.05,
    },
  ];

  for (const c of cases) {
    it(`matches the Python reference at a fixed temperature: ${c.name}`, { skip: PYTHON_SKIP }, async () => {
      const out = await entanglement(c.data, ['--temperature', String(c.fixed), '--distance', c.distance]);
      const ref = await reference(c.data, [c.fixed], c.distance);
      assert.equal(out.temperature, c.fixed);
      assert.equal(out.distance, c.distance);
      assert.equal(out.points, c.data.x.length);
      assert.equal(out.skipped_anchors, c.singletons ?? 0);
      assert.equal(ref.skipped_anchors, c.singletons ?? 0);
      assertAgrees(out.snnl, ref.snnl[0], c.name);
    });

    it(`auto finds a minimum of the Python reference's SNNL: ${c.name}`, { skip: PYTHON_SKIP }, async () => {
      // --temperature auto is the default; the cosine case passes it explicitly.
      const flags = c.distance === 'cosine' ? ['--temperature', 'auto', '--distance', 'cosine'] : [];
      const out = await entanglement(c.data, flags);
      assert.ok(out.temperature > 0 && Number.isFinite(out.temperature), `temperature ${out.temperature}`);
      const [atT, above, below] = (await reference(c.data, [out.temperature, out.temperature * 1.05, out.temperature / 1.05], c.distance)).snnl;
      assertAgrees(out.snnl, atT, `${c.name} at T*`);
      const slack = 1e-9 * Math.abs(atT) + 1e-12;
      assert.ok(above >= atT - slack, `${c.name}: SNNL(1.05 T*) = ${above} < SNNL(T*) = ${atT}`);
      assert.ok(below >= atT - slack, `${c.name}: SNNL(T*/1.05) = ${below} < SNNL(T*) = ${atT}`);
    });
  }

  it('reads CSV with a header row and CRLF line ends, the same as JSON', async () => {
    const data = cases[0].data;
    const csv = `${['f1', 'f2'].join(',')}\r\n${data.x.map((r) => r.join(',')).join('\r\n')}\r\n`;
    const [e, l] = await files(csv, data.labels, 'csv');
    const run = await runOod(['entanglement', '--embeddings', e, '--labels', l, '--temperature', '0.5']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), await entanglement(data, ['--temperature', '0.5']));
  });

  // The other rejections (flags, labels, singleton classes) are tested in-process in entanglement-args.test.ts.
  const errors: { name: string; embeddings: unknown; labels: unknown; ext?: string; message: RegExp }[] = [
    { name: 'mismatched lengths', embeddings: [[0], [1], [2]], labels: [0, 0], message: /3 embeddings but 2 labels/ },
    { name: 'ragged rows', embeddings: [[0, 1], [1], [2, 3]], labels: [0, 0, 1], message: /row 1 has 1 values.*ragged/ },
    { name: 'a non-finite value in JSON', embeddings: '[[0, 1], [1, 1e999], [2, 3]]', labels: [0, 0, 1], message: /non-finite/ },
    { name: 'NaN in CSV', embeddings: '0,1\n1,NaN\n2,3\n', labels: [0, 0, 1], ext: 'csv', message: /line 2, column 2 is a non-finite value/ },
    { name: 'fewer than 2 points', embeddings: [[0, 1]], labels: [0], message: /at least 2 points/ },
  ];

  for (const c of errors) {
    it(`exits 2 with a message on stderr: ${c.name}`, async () => {
      const [e, l] = await files(c.embeddings, c.labels, c.ext);
      const run = await runOod(['entanglement', '--embeddings', e, '--labels', l]);
      assert.equal(run.code, 2, run.stderr);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, c.message);
    });
  }

  it('exits 2 for a missing file, naming it', async () => {
    const [, l] = await files([[0], [1]], [0, 0]);
    const run = await runOod(['entanglement', '--embeddings', join(dir, 'absent.json'), '--labels', l]);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /cannot read --embeddings .*absent\.json: no such file/);
  });
});

describe('ood entanglement --model', () => {
  it('reports SNNL at the optimal temperature for every layer of models/mnist', async () => {
    const run = await runOod(['entanglement', '--model', 'mnist', '--data', 'mnist', '--limit', '300', '--backend', 'wasm']);
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as {
      model: string;
      data: string;
      points: number;
      layers: { name: string; snnl: number; temperature: number }[];
    };
    assert.equal(out.model, 'mnist');
    assert.equal(out.data, 'mnist');
    assert.equal(out.points, 300);
    assert.deepEqual(
      out.layers.map((l) => l.name),
      ['input', 'hidden1', 'hidden2', 'hidden3'],
    );
    for (const layer of out.layers) {
      assert.ok(Number.isFinite(layer.snnl) && layer.snnl > 0, `${layer.name}: snnl ${layer.snnl}`);
      assert.ok(Number.isFinite(layer.temperature) && layer.temperature > 0, `${layer.name}: temperature ${layer.temperature}`);
    }
    // A trained classifier separates its classes more the deeper the layer (the paper's Figure 5).
    assert.ok(out.layers[3].snnl < out.layers[0].snnl, JSON.stringify(out.layers));
  });
});
