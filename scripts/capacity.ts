/**
 * What one replica holds and serves, for docs/scaling.md: per model, the server's resident memory
 * once ready and its peak under load, its reference set and layer widths, and the predictions/s
 * it serves at batch 1 (16 connections) and at batch 32 (4 connections), with their p99.
 *
 *   npm run capacity                       # mnist and fashion-mnist
 *   npm run capacity -- --models mnist --seconds 5
 *
 * Each model runs alone in its own server process, from the cache under .cache (a first run
 * builds it), so the memory is that of a replica serving that model.
 */
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { latenciesOf, latencyPercentiles, runAutocannon } from './bench/autocannon-run.js';
import { numberOption, parseScriptArgs, runMain } from './bench/cli.js';
import { httpRequest } from './bench/http.js';
import { mib, readProcMemory, readProcPss, RssSampler } from './bench/proc.js';
import { ServerProcess } from './bench/server.js';
import { ms, progress, setProgressTag } from './bench/stats.js';
import { table } from './bench/table.js';
import { loadWorkload } from './bench/workload.js';

const USAGE = 'usage: npm run capacity -- [--models mnist,fashion-mnist] [--seconds 10]\n';
const ROOT = resolve(import.meta.dirname, '..');

interface Row {
  model: string;
  references: number;
  layers: string;
  readyRss: number;
  readyPss: number;
  peakRss: number;
  peakPss: number;
  batch1: { perSecond: number; p99: number };
  batch32: { perSecond: number; p99: number };
}

async function measure(model: string, seconds: number): Promise<Row> {
  progress(`${model}: starting the server`);
  const { server } = await ServerProcess.start({ root: ROOT, cacheDir: resolve(ROOT, '.cache'), model });
  try {
    const info = JSON.parse((await httpRequest(`${server.baseUrl}/models/default`)).body) as { reference_size: number; layers: string[]; input_shape: number[] };
    await sleep(2000);
    const readyRss = (await readProcMemory(server.pid))?.rss ?? Number.NaN;
    const readyPss = (await readProcPss(server.pid)) ?? Number.NaN;
    const workload = await loadWorkload(resolve(ROOT, 'reference-sets'), model);
    const sampler = new RssSampler(server.pid);
    const load = async (batch: number, connections: number) => {
      progress(`${model}: batch ${batch}, ${connections} connections, ${seconds} s`);
      const run = await runAutocannon(server.baseUrl, workload.bodies(batch, 64), { connections, durationS: seconds, timeoutS: 30 });
      const ok = latenciesOf(run, (s) => s === 200);
      return { perSecond: (ok.length * batch) / run.durationS, p99: latencyPercentiles(ok).p99 };
    };
    const batch1 = await load(1, 16);
    const batch32 = await load(32, 4);
    const { peakRss, peakPss } = await sampler.stop();
    const input = info.input_shape.reduce((a, b) => a * b, 1);
    const layers = info.layers.map((l) => (l === 'input' ? `input (${input})` : l)).join(', ');
    return { model, references: info.reference_size, layers, readyRss, readyPss, peakRss, peakPss, batch1, batch32 };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<number> {
  setProgressTag('capacity');
  const values = parseScriptArgs({ models: { type: 'string' }, seconds: { type: 'string' } }, USAGE);
  if (typeof values === 'number') return values;
  const models = typeof values.models === 'string' ? values.models.split(',') : ['mnist', 'fashion-mnist'];
  const seconds = numberOption(values, 'seconds', 10, 1);
  const rows: Row[] = [];
  for (const model of models) rows.push(await measure(model, seconds));
  const lines = [
    `### Capacity of one replica (\`npm run capacity\`, ${seconds} s per load, scoring threads: one per core)`,
    '',
    ...table(
      ['model', 'references', 'indexed layers', 'PSS ready (MiB)', 'RSS ready (MiB)', 'PSS peak under load (MiB)', 'RSS peak under load (MiB)', 'pred/s batch 1 (16 conn)', 'p99 batch 1 (ms)', 'pred/s batch 32 (4 conn)', 'p99 batch 32 (ms)'],
      rows.map((r) => [r.model, r.references, r.layers, mib(r.readyPss), mib(r.readyRss), mib(r.peakPss), mib(r.peakRss), r.batch1.perSecond.toFixed(0), ms(r.batch1.p99), r.batch32.perSecond.toFixed(0), ms(r.batch32.p99)]),
    ),
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

runMain('capacity', main);
