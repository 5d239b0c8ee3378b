import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { measureEntanglement } from '../../src/analysis/entanglement.js';
import { entanglementCommand } from '../../src/cli/entanglement.js';

/** The command run in-process: its flag and input checks, without a process start per case. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await entanglementCommand(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe('entanglementCommand', () => {
  let dir: string;
  let e: string;
  let l: string;
  const x = [[0, 0], [1, 0], [0, 1], [3, 3], [4, 3], [3, 4]];
  const labels = [0, 0, 1, 1, 1, 0];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ood-entanglement-args-'));
    e = join(dir, 'e.json');
    l = join(dir, 'l.json');
    await writeFile(e, JSON.stringify(x));
    await writeFile(l, JSON.stringify(labels));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function file(name: string, content: string): Promise<string> {
    await writeFile(join(dir, name), content);
    return join(dir, name);
  }

  it('prints one JSON line with the documented fields', async () => {
    const out = await run(['--embeddings', e, '--labels', l, '--temperature', '2', '--distance', 'cosine']);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stderr, '');
    assert.ok(out.stdout.endsWith('}\n') && out.stdout.split('\n').length === 2);
    const flat = { data: Float64Array.from(x.flat()), rows: 6, cols: 2 };
    const expected = measureEntanglement(flat, labels, { temperature: 2, distance: 'cosine' });
    assert.deepEqual(JSON.parse(out.stdout), {
      snnl: expected.snnl,
      temperature: 2,
      distance: 'cosine',
      points: 6,
      skipped_anchors: 0,
    });
  });

  it('defaults to --temperature auto and the squared Euclidean distance', async () => {
    const out = await run(['--embeddings', e, '--labels', l]);
    assert.equal(out.code, 0, out.stderr);
    const flat = { data: Float64Array.from(x.flat()), rows: 6, cols: 2 };
    const expected = measureEntanglement(flat, labels);
    const parsed = JSON.parse(out.stdout) as { snnl: number; temperature: number; distance: string };
    assert.equal(parsed.distance, 'euclidean');
    assert.equal(parsed.snnl, expected.snnl);
    assert.equal(parsed.temperature, expected.temperature);
  });

  it('--help prints the usage on stderr and exits 0', async () => {
    const out = await run(['--help']);
    assert.equal(out.code, 0);
    assert.equal(out.stdout, '');
    assert.match(out.stderr, /--embeddings FILE.*\n.*--model NAME/);
  });

  const usageErrors: { argv: () => string[]; message: RegExp }[] = [
    { argv: () => [], message: /give --embeddings FILE --labels FILE, or --model NAME/ },
    { argv: () => ['--embeddings', e, '--labels', l, '--model', 'mnist'], message: /not both/ },
    { argv: () => ['--embeddings', e], message: /--embeddings and --labels go together/ },
    { argv: () => ['--embeddings', e, '--labels', l, '--temperature=-1'], message: /--temperature must be a finite positive number or "auto", got "-1"/ },
    { argv: () => ['--embeddings', e, '--labels', l, '--temperature', '0'], message: /--temperature must be/ },
    { argv: () => ['--embeddings', e, '--labels', l, '--temperature', 'hot'], message: /--temperature must be/ },
    { argv: () => ['--embeddings', e, '--labels', l, '--distance', 'manhattan'], message: /--distance must be one of euclidean, cosine/ },
    { argv: () => ['--embeddings', e, '--labels', l, '--limit', '10'], message: /--limit only applies with --model/ },
    { argv: () => ['--model', 'mnist', '--limit', '0'], message: /--limit must be an integer >= 1/ },
    { argv: () => ['--model', 'mnist', '--part', 'validation'], message: /--part must be one of train, calibration, test/ },
    { argv: () => ['--embeddings', e, '--labels', l, '--frobnicate'], message: /Unknown option '--frobnicate'/ },
    { argv: () => ['--embeddings', e, '--labels', l, 'extra'], message: /unexpected argument "extra"/ },
  ];
  for (const c of usageErrors) {
    it(`usage error exits 2: ${c.message.source}`, async () => {
      const out = await run(c.argv());
      assert.equal(out.code, 2);
      assert.equal(out.stdout, '');
      assert.match(out.stderr, /^entanglement: /);
      assert.match(out.stderr, c.message);
      assert.match(out.stderr, /--help for usage/);
    });
  }

  const inputErrors: { name: string; embeddings: string; labels: string; message: RegExp }[] = [
    { name: 'no class with two members', embeddings: '[[0],[1],[2]]', labels: '[0,1,2]', message: /every class has a single member/ },
    { name: 'a fractional label', embeddings: '[[0],[1]]', labels: '[0,0.5]', message: /label 1 is not an integer: 0.5/ },
    { name: 'labels that are not JSON', embeddings: '[[0],[1]]', labels: '0\n1\n', message: /l-bad\.json: not valid JSON/ },
    { name: 'a string in the embeddings', embeddings: '[[0],["1"]]', labels: '[0,0]', message: /row 1, column 0 is not a number/ },
    { name: 'null (NaN written by JSON.stringify)', embeddings: '[[0],[null]]', labels: '[0,0]', message: /row 1, column 0 is null/ },
    { name: 'no embeddings at all', embeddings: '[]', labels: '[]', message: /no embeddings/ },
  ];
  for (const c of inputErrors) {
    it(`input error exits 2: ${c.name}`, async () => {
      const out = await run(['--embeddings', await file('e-bad.json', c.embeddings), '--labels', await file('l-bad.json', c.labels)]);
      assert.equal(out.code, 2);
      assert.equal(out.stdout, '');
      assert.match(out.stderr, c.message);
    });
  }

  it('exits 2 for a model that does not exist', async () => {
    const out = await run(['--model', 'no-such-model', '--backend', 'cpu']);
    assert.equal(out.code, 2);
    assert.equal(out.stdout, '');
    assert.match(out.stderr, /cannot read models\/no-such-model\/manifest\.json/);
  });
});
