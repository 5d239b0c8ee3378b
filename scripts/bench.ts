/**
 * `npm run bench [-- --quick] [-- --out FILE]`: start-up, /predict latency and throughput over
 * loopback HTTP, and HNSW recall for the embedded mnist model (or --model NAME). The markdown report goes to
 * stdout (and FILE), progress and server logs to stderr. See docs/benchmarks.md.
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { atExit } from './bench/cleanup.js';
import { parseScriptArgs, runMain } from './bench/cli.js';
import { measureLatency, type LatencyResult } from './bench/latency.js';
import { describeMachine } from './bench/machine.js';
import { measureRecall } from './bench/recall.js';
import { renderReport } from './bench/report.js';
import { freePort, ServerProcess } from './bench/server.js';
import { progress } from './bench/stats.js';
import { measureThroughput, type ThroughputResult } from './bench/throughput.js';
import { AnchorProcess, anchorUnavailable } from './bench/anchor.js';
import { measureSideBySide } from './bench/side-by-side.js';
import { measureProtocols } from './bench/grpc-vs-rest.js';
import { measureTracingCost, otlpSink, type TracingRow } from './bench/tracing-cost.js';
import { loadWorkload, type Workload } from './bench/workload.js';
import type { SideBySide } from './bench/report.js';

const SERVICE = 'ood-service';
const ANCHOR = 'Python anchor (FastAPI + numpy + hnswlib)';

interface Profile {
  latencyRequests: number;
  warmupRequests: number;
  batches: number[];
  throughputSeconds: number;
  concurrencies: number[];
  /** Calibration rows used as recall queries; undefined means all of them. */
  recallQueries?: number;
  /** Seconds per server and load in the side-by-side with the Python anchor. */
  sideBySideSeconds: number;
  /** Seconds per protocol and load in the gRPC / REST comparison. */
  protocolSeconds: number;
}

const FULL: Profile = {
  latencyRequests: 300,
  warmupRequests: 50,
  batches: [1, 32],
  throughputSeconds: 10,
  concurrencies: [1, 4, 16],
  sideBySideSeconds: 10,
  protocolSeconds: 8,
};
const QUICK: Profile = {
  latencyRequests: 30,
  warmupRequests: 10,
  batches: [1, 32],
  throughputSeconds: 2,
  concurrencies: [1, 4, 16],
  recallQueries: 200,
  sideBySideSeconds: 2,
  protocolSeconds: 2,
};

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = 'usage: npm run bench [-- --quick] [-- --model NAME] [-- --out FILE]\n';

async function run(profile: Profile, command: string, model: string): Promise<string> {
  const startedAt = new Date();
  const started = performance.now();
  const config = loadConfig({ ...process.env, OOD_MODEL: model });
  progress(`loading the test rows of ${config.referenceSetsDir}/${model}`);
  const workload = await loadWorkload(resolve(ROOT, config.referenceSetsDir), model);

  const cacheDir = await mkdtemp(join(tmpdir(), 'ood-bench-cache-'));
  const releaseDir = atExit(() => rmSync(cacheDir, { recursive: true, force: true }));
  let server: ServerProcess | undefined;
  try {
    progress(`cold start (cache ${cacheDir})`);
    let start = await ServerProcess.start({ root: ROOT, cacheDir, model });
    server = start.server;
    const cold = start.times;
    progress(`cold start ready in ${(cold.readyMs / 1000).toFixed(1)} s; stopping it`);
    await server.stop();
    server = undefined;

    progress('warm start (same cache), gRPC on');
    const grpcPort = await freePort();
    start = await ServerProcess.start({ root: ROOT, cacheDir, model, env: { OOD_GRPC_PORT: String(grpcPort) } });
    server = start.server;
    const warm = start.times;
    progress(`warm start ready in ${(warm.readyMs / 1000).toFixed(1)} s`);
    const machine = await describeMachine(server.baseUrl);

    const latency: LatencyResult[] = [];
    for (const batch of profile.batches) {
      latency.push(
        await measureLatency(server.baseUrl, workload, {
          batch,
          requests: profile.latencyRequests,
          warmup: profile.warmupRequests,
        }),
      );
      server.assertAlive(`the batch-${batch} latency run`);
    }
    const throughput: ThroughputResult[] = [];
    for (const connections of profile.concurrencies) {
      throughput.push(await measureThroughput(server.baseUrl, workload, { connections, durationS: profile.throughputSeconds }));
      server.assertAlive(`the autocannon run with ${connections} connection(s)`);
    }
    const protocols = await measureProtocols({ baseUrl: server.baseUrl, grpcPort }, model, workload, profile.protocolSeconds);
    server.assertAlive('the gRPC and REST runs');
    const tracing = await compareTracing(server, cacheDir, model, workload, profile.protocolSeconds);
    const sideBySide = await compareWithAnchor(server, workload, config, profile.sideBySideSeconds);
    await server.stop();
    server = undefined;

    const recall = await measureRecall({ root: ROOT, config, maxQueries: profile.recallQueries });
    return renderReport({
      command,
      date: startedAt,
      totalMs: performance.now() - started,
      machine,
      cold,
      warm,
      latency,
      throughput,
      sideBySide,
      protocols,
      tracing,
      recall,
    });
  } finally {
    await server?.stop();
    await rm(cacheDir, { recursive: true, force: true });
    releaseDir();
  }
}

/** The same REST load against this server (tracing off) and a second one tracing to an OTLP sink. */
async function compareTracing(off: ServerProcess, cacheDir: string, model: string, workload: Workload, seconds: number): Promise<{ rows: TracingRow[]; exports: number }> {
  const sink = await otlpSink();
  progress('a second server, tracing over OTLP to a sink');
  const { server: on } = await ServerProcess.start({ root: ROOT, cacheDir, model, env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: sink.url } });
  try {
    const rows = await measureTracingCost({ off: off.baseUrl, on: on.baseUrl }, model, workload, seconds);
    on.assertAlive('the tracing runs');
    return { rows, exports: sink.exports() };
  } finally {
    await on.stop();
    await sink.close();
  }
}

/** The same loads against the service and the Python anchor, or why the anchor could not run. */
async function compareWithAnchor(
  server: ServerProcess,
  workload: Workload,
  config: ReturnType<typeof loadConfig>,
  seconds: number,
): Promise<SideBySide> {
  const unavailable = anchorUnavailable();
  if (unavailable) {
    progress(`side by side skipped: ${unavailable}`);
    return { skipped: unavailable };
  }
  const anchor = await AnchorProcess.start({
    root: ROOT,
    modelsDir: config.modelsDir,
    referenceSetsDir: config.referenceSetsDir,
    model: config.model,
    k: config.k,
  });
  try {
    const rows = await measureSideBySide(
      [
        { name: SERVICE, baseUrl: server.baseUrl },
        { name: ANCHOR, baseUrl: anchor.baseUrl },
      ],
      workload,
      seconds,
    );
    server.assertAlive('the side-by-side runs');
    return { rows, anchor: ANCHOR };
  } finally {
    await anchor.stop();
  }
}

async function main(): Promise<number> {
  const values = parseScriptArgs({ quick: { type: 'boolean' }, model: { type: 'string' }, out: { type: 'string' } }, USAGE);
  if (typeof values === 'number') return values;
  const quick = values.quick === true;
  // The embedded default unless told: the figures of docs/benchmarks.md are for it.
  const model = typeof values.model === 'string' ? values.model : 'mnist';
  const args = [...(quick ? ['--quick'] : []), ...(model !== 'mnist' ? ['--model', model] : [])];
  const command = `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`;
  const report = await run(quick ? QUICK : FULL, command, model);
  process.stdout.write(report);
  if (typeof values.out === 'string') {
    const out = resolve(values.out);
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, report);
    progress(`report written to ${out}`);
  }
  return 0;
}

runMain('bench', main);
