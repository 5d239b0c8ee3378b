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
import { freePort, ServerProcess } from './bench/server.js';
import { progress } from './bench/stats.js';
import { instanceBatches, restSender, takeTurns, v2InputOf } from './bench/take-turns.js';
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
      const input = await v2InputOf(servers.tree.baseUrl, model);
      const lines = [`\`npm run bench:ab -- --base ${values.base}\`, ${new Date().toISOString()}: ${base} against this tree (${head}), model ${model}, REST v2, one caller, ${ROUNDS} rounds each.`, '', '| batch | server | requests/s | p50 ms | p99 ms | ratio requests/s | ratio p50 |', '| --- | --- | --- | --- | --- | --- | --- |'];
      for (const batch of [1, 32]) {
        const batches = instanceBatches(workload, batch);
        const senders = { base: restSender(servers.base.baseUrl, model, input, batches, 1), tree: restSender(servers.tree.baseUrl, model, input, batches, 1) };
        const { base: b, tree: t } = await takeTurns(senders, 1, seconds, ROUNDS, `batch ${batch}`);
        lines.push(`| ${batch} | ${base} | ${b.requestsPerSecond.toFixed(0)} | ${b.p50Ms.toFixed(2)} | ${b.p99Ms.toFixed(2)} |  |  |`);
        lines.push(`| ${batch} | this tree | ${t.requestsPerSecond.toFixed(0)} | ${t.p50Ms.toFixed(2)} | ${t.p99Ms.toFixed(2)} | ${(t.requestsPerSecond / b.requestsPerSecond).toFixed(2)}x | ${(t.p50Ms / b.p50Ms).toFixed(2)}x |`);
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
