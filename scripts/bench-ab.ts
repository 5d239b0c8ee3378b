/**
 * `npm run bench:ab -- --base REV [--seconds S] [--model NAME]`: this working tree against an
 * earlier commit, side by side in one run. Both servers start from their own code (the earlier
 * one from a temporary git worktree sharing this node_modules), with nothing else set, each on a
 * cache of its own; the same REST v2 load then takes turns between them, one caller, at batch 1
 * and 32. Prints a markdown table with the ratio of this tree over the base: what the changes
 * since REV cost a REST request with nothing set (tracing off; gRPC listening, where the build
 * has it, but idle).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { atExit } from './bench/cleanup.js';
import { numberOption, parseScriptArgs, runMain } from './bench/cli.js';
import { closedLoop, restSender } from './bench/grpc-vs-rest.js';
import { httpRequest } from './bench/http.js';
import { freePort, ServerProcess } from './bench/server.js';
import { percentile, progress } from './bench/stats.js';
import { loadWorkload } from './bench/workload.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = 'usage: npm run bench:ab -- --base REV [--seconds S] [--model NAME]\n';
const ROUNDS = 6;

async function main(): Promise<number> {
  const values = parseScriptArgs({ base: { type: 'string' }, seconds: { type: 'string' }, model: { type: 'string' } }, USAGE);
  if (typeof values === 'number') return values;
  if (typeof values.base !== 'string') {
    process.stderr.write(`--base is required\n${USAGE}`);
    return 2;
  }
  const seconds = numberOption(values, 'seconds', 12, 2, false);
  const model = typeof values.model === 'string' ? values.model : 'mnist';
  const base = execFileSync('git', ['rev-parse', '--short', values.base], { cwd: ROOT, encoding: 'utf8' }).trim();
  const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  const scratch = mkdtempSync(join(tmpdir(), 'ood-bench-ab-'));
  const worktree = join(scratch, 'base');
  const cleanUp = () => {
    try {
      execFileSync('git', ['worktree', 'remove', '--force', worktree], { cwd: ROOT, stdio: 'ignore' });
    } catch {
      // Not added yet, or gone already: the folder goes below either way.
    }
    rmSync(scratch, { recursive: true, force: true });
    execFileSync('git', ['worktree', 'prune'], { cwd: ROOT, stdio: 'ignore' });
  };
  const release = atExit(cleanUp);
  try {
    execFileSync('git', ['worktree', 'add', '--detach', worktree, base], { cwd: ROOT, stdio: 'ignore' });
    symlinkSync(join(ROOT, 'node_modules'), join(worktree, 'node_modules'));
    progress(`starting ${base} (base) and this tree (${head} plus any changes), each on a cache of its own`);
    // As each starts with nothing set: gRPC on (a port of its own, where the build has it), tracing off.
    const grpc = async () => ({ OOD_GRPC_PORT: String(await freePort()) });
    const servers = {
      base: (await ServerProcess.start({ root: worktree, cacheDir: join(scratch, 'cache-base'), model, env: await grpc() })).server,
      tree: (await ServerProcess.start({ root: ROOT, cacheDir: join(scratch, 'cache-tree'), model, env: await grpc() })).server,
    };
    try {
      const workload = await loadWorkload(join(ROOT, 'reference-sets'), model);
      const meta = JSON.parse((await httpRequest(`${servers.tree.baseUrl}/v2/models/${model}`)).body) as { inputs: { name: string; shape: number[] }[] };
      const input = { name: meta.inputs[0].name, shape: meta.inputs[0].shape.slice(1) };
      const lines = [`\`npm run bench:ab -- --base ${values.base}\`, ${new Date().toISOString()}: ${base} against this tree (${head}), model ${model}, REST v2, one caller, ${ROUNDS} rounds each.`, '', '| batch | server | requests/s | p50 ms | p99 ms | ratio requests/s | ratio p50 |', '| --- | --- | --- | --- | --- | --- | --- |'];
      for (const batch of [1, 32]) {
        const batches = workload.bodies(batch, batch === 1 ? 200 : 20).map((b) => (JSON.parse(b) as { instances: number[][] }).instances);
        const senders = { base: restSender(servers.base.baseUrl, model, input, batches, 1), tree: restSender(servers.tree.baseUrl, model, input, batches, 1) };
        const samples = { base: [] as number[], tree: [] as number[] };
        try {
          for (const sender of Object.values(senders)) await closedLoop(sender, 1, 1);
          progress(`batch ${batch}: ${ROUNDS} rounds of ${(seconds / ROUNDS).toFixed(1)} s each, taking turns`);
          for (let round = 0; round < ROUNDS; round++) {
            for (const which of ['base', 'tree'] as const) samples[which].push(...(await closedLoop(senders[which], 1, seconds / ROUNDS)));
          }
        } finally {
          for (const sender of Object.values(senders)) sender.close();
        }
        const stats = (s: number[]) => ({ rps: s.length / seconds, p50: percentile(s, 50), p99: percentile(s, 99) });
        const [b, t] = [stats(samples.base), stats(samples.tree)];
        lines.push(`| ${batch} | ${base} | ${b.rps.toFixed(0)} | ${b.p50.toFixed(2)} | ${b.p99.toFixed(2)} |  |  |`);
        lines.push(`| ${batch} | this tree | ${t.rps.toFixed(0)} | ${t.p50.toFixed(2)} | ${t.p99.toFixed(2)} | ${(t.rps / b.rps).toFixed(2)}x | ${(t.p50 / b.p50).toFixed(2)}x |`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
      return 0;
    } finally {
      await servers.base.stop();
      await servers.tree.stop();
    }
  } finally {
    release();
    cleanUp();
  }
}

runMain('bench:ab', main);
