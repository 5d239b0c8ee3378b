/**
 * `npm run bench:curve`: what one indexed layer costs as the reference set grows. For synthetic
 * sets of 10k, 100k and 1M points at 64 and 256 dimensions it builds one graph per engine with
 * the service's defaults (usearch in the storage the service would keep, on every core;
 * hnswlib on one thread, as it builds) and measures the build time, the memory the graph takes,
 * and, at each efSearch asked for, the latency of single searches at k = 75 and their recall
 * against an exact scan. Prints a markdown report and writes the latency plot as SVG
 * (docs/cost-curve.svg unless --svg says otherwise).
 */
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ExactIndex } from '../src/neighbors/exact-index.js';
import { MIN_RECALL } from '../src/neighbors/graph-build.js';
import { createGraph, hnswlibAvailable, NeighborEngineSchema, openGraph, type NeighborEngine } from '../src/neighbors/graph-engine.js';
import { HnswParamsSchema } from '../src/neighbors/hnsw-params.js';
import type { Neighbors } from '../src/neighbors/neighbor-index.js';
import { recallAtK } from '../src/neighbors/recall.js';
import type { Storage } from '../src/neighbors/storage.js';
import { createRng, gaussian, type Rng } from '../src/math/random.js';
import { l2NormalizeRows } from '../src/math/normalize.js';
import { writeFileAtomic } from '../src/atomic-write.js';
import { lineChartSvg } from '../src/report/svg-line-chart.js';
import { numberOption, parseScriptArgs, runMain } from './bench/cli.js';
import { percentile } from './bench/stats.js';
import { table } from './bench/table.js';

const USAGE = `usage: npm run bench:curve -- [--sizes 10000,100000,1000000] [--dims 64,256] [--engines usearch,hnswlib] [--ef-search 100,200] [--queries 1000] [--recall-queries 100] [--svg docs/cost-curve.svg] [--out FILE]
`;
const K = 75;
const CLUSTERS = 10;
/** Real activations lie near a low-dimensional surface; points here vary in this many directions per cluster. */
const LATENT = 16;

/**
 * Points that look like a classifier's activations: ten clusters, each a random 16-dimensional
 * linear patch plus a little noise in every direction, L2-normalised as the service stores them.
 * Isotropic noise would be the worst case for any graph index and is not what a layer holds.
 */
function clusteredPoints(n: number, dim: number, rng: Rng, basis: Float32Array[], centres: Float32Array[]): Float32Array {
  const out = new Float32Array(n * dim);
  const z = new Float64Array(LATENT);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rng() * CLUSTERS);
    for (let j = 0; j < LATENT; j++) z[j] = gaussian(rng);
    const b = basis[c];
    const row = out.subarray(i * dim, (i + 1) * dim);
    for (let d = 0; d < dim; d++) {
      let v = centres[c][d] + 0.05 * gaussian(rng);
      for (let j = 0; j < LATENT; j++) v += 0.3 * b[j * dim + d] * z[j];
      row[d] = v;
    }
  }
  return l2NormalizeRows({ data: out, rows: n, cols: dim }).data as Float32Array;
}

interface CurvePoint {
  engine: NeighborEngine;
  storage: Storage;
  size: number;
  dim: number;
  efSearch: number;
  buildSeconds: number;
  graphMiB: number;
  p50Ms: number;
  p99Ms: number;
  recall: number;
}

interface Workload {
  size: number;
  dim: number;
  points: Float32Array;
  probes: Float32Array;
  /** The exact neighbours of the first recallQueries probes. */
  truth: Neighbors[];
}

function workload(size: number, dim: number, queries: number, recallQueries: number): Workload {
  const rng = createRng(size + dim);
  const gauss = (len: number) => Float32Array.from({ length: len }, () => gaussian(rng) / Math.sqrt(dim));
  const centres = Array.from({ length: CLUSTERS }, () => gauss(dim).map((v) => v * Math.sqrt(dim)));
  const basis = Array.from({ length: CLUSTERS }, () => gauss(LATENT * dim));
  const points = clusteredPoints(size, dim, rng, basis, centres);
  const probes = clusteredPoints(queries, dim, rng, basis, centres);
  process.stderr.write(`[curve] ${size} x ${dim}: exact neighbours of ${recallQueries} probes\n`);
  const exact = new ExactIndex(dim);
  exact.addAll(points, size);
  const truth = exact.searchBatch(probes.subarray(0, recallQueries * dim), recallQueries, K);
  exact.dispose();
  return { size, dim, points, probes, truth };
}

/** Single searches, one at a time, as a lone request makes them. */
function timeSearches(index: { searchBatch: (q: Float32Array, rows: number, k: number) => Neighbors[] }, w: Workload): { times: number[]; found: Neighbors[] } {
  const times: number[] = [];
  const found: Neighbors[] = [];
  const queries = w.probes.length / w.dim;
  for (let q = 0; q < queries; q++) {
    const t = performance.now();
    const [hit] = index.searchBatch(w.probes.subarray(q * w.dim, (q + 1) * w.dim), 1, K);
    times.push(performance.now() - t);
    if (q < w.truth.length) found.push(hit);
  }
  return { times, found };
}

/**
 * One graph, built once and saved; each efSearch then opens the saved file (memory-mapped for
 * usearch, which sets efSearch when it opens a graph) and times its searches.
 */
async function measure(w: Workload, engine: NeighborEngine, efs: number[], scratch: string): Promise<CurvePoint[]> {
  const { size, dim, points } = w;
  const params = HnswParamsSchema.parse({});
  // What the service keeps with 'auto' when f16 holds the recall (the report shows whether it did).
  const storage: Storage = engine === 'usearch' ? 'f16' : 'f32';
  const started = performance.now();
  const index = await createGraph(engine, storage, dim, size, params, { buildThreads: 0 });
  const chunk = 20_000;
  for (let start = 0; start < size; start += chunk) {
    const n = Math.min(chunk, size - start);
    index.addAll(points.subarray(start * dim, (start + n) * dim), n);
    if (size >= 100_000) process.stderr.write(`[curve] ${engine} ${size} x ${dim}: ${start + n} inserted\r`);
  }
  const buildSeconds = (performance.now() - started) / 1000;
  process.stderr.write(`\n[curve] ${engine} ${size} x ${dim}: built in ${buildSeconds.toFixed(1)} s; searching\n`);
  const path = join(scratch, `${engine}-${size}-${dim}.graph`);
  await index.save(path);
  index.dispose();
  // The saved graph, byte for byte what a server maps or loads: a steadier measure than the
  // growth of the process's resident memory, which the allocator and the GC blur.
  const graphMiB = (await stat(path)).size / 2 ** 20;
  const out: CurvePoint[] = [];
  for (const efSearch of efs) {
    const opened = await openGraph(engine, storage, path, dim, { ...params, efSearch }, { map: true });
    const { times, found } = timeSearches(opened, w);
    opened.dispose();
    out.push({ engine, storage, size, dim, efSearch, buildSeconds, graphMiB, p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), recall: recallAtK(found, w.truth) });
  }
  await rm(path, { force: true });
  return out;
}

function list(values: Record<string, string | boolean | undefined>, name: string, fallback: number[], min: number): number[] {
  const raw = values[name];
  if (typeof raw !== 'string') return fallback;
  return raw.split(',').map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} takes whole numbers >= ${min}, got ${v}`);
    return n;
  });
}

async function main(): Promise<number> {
  const values = parseScriptArgs(
    {
      sizes: { type: 'string' },
      dims: { type: 'string' },
      engines: { type: 'string' },
      'ef-search': { type: 'string' },
      queries: { type: 'string' },
      'recall-queries': { type: 'string' },
      svg: { type: 'string' },
      out: { type: 'string' },
    },
    USAGE,
  );
  if (typeof values === 'number') return values;
  const sizes = list(values, 'sizes', [10_000, 100_000, 1_000_000], K);
  const dims = list(values, 'dims', [64, 256], 1);
  const efs = list(values, 'ef-search', [HnswParamsSchema.parse({}).efSearch, 200], 1);
  const asked = typeof values.engines === 'string' ? values.engines.split(',').map((e) => NeighborEngineSchema.parse(e)) : NeighborEngineSchema.options;
  const engines = (await hnswlibAvailable()) ? asked : asked.filter((e) => e !== 'hnswlib');
  if (engines.length < asked.length) process.stderr.write('[curve] hnswlib-node is not installed: its rows are left out\n');
  const queries = numberOption(values, 'queries', 1000, 1);
  const recallQueries = Math.min(queries, numberOption(values, 'recall-queries', 100, 1));
  const svgPath = typeof values.svg === 'string' ? values.svg : 'docs/cost-curve.svg';
  const points: CurvePoint[] = [];
  const started = performance.now();
  const scratch = await mkdtemp(join(tmpdir(), 'ood-curve-'));
  try {
    for (const dim of dims) {
      for (const size of sizes) {
        const w = workload(size, dim, queries, recallQueries);
        for (const engine of engines) points.push(...(await measure(w, engine, efs, scratch)));
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const { M, efConstruction } = HnswParamsSchema.parse({});
  const lines = [
    '### HNSW cost curve',
    '',
    `\`npm run bench:curve\`, ${new Date().toISOString()}, ${((performance.now() - started) / 1000).toFixed(0)} s in all; ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}.`,
    `One graph per engine and size, with the service's defaults (M = ${M}, efConstruction = ${efConstruction}): usearch stores f16 and builds on every core, hnswlib stores f32 and builds on one thread. At each efSearch, ${queries} single searches at k = ${K}, one at a time; recall@${K} against an exact scan on the first ${recallQueries} of them (at least ${MIN_RECALL} is the service's bar).`,
    '',
    ...table(
      ['engine', 'storage', 'points', 'dim', 'build (s)', 'graph size (MiB)', 'efSearch', 'search p50 (ms)', 'search p99 (ms)', `recall@${K}`],
      points.map((p) => [p.engine, p.storage, p.size, p.dim, p.buildSeconds.toFixed(1), p.graphMiB.toFixed(0), p.efSearch, p.p50Ms.toFixed(3), p.p99Ms.toFixed(3), p.recall.toFixed(4)]),
    ),
    '',
  ];
  const report = `${lines.join('\n')}\n`;
  process.stdout.write(report);
  if (typeof values.out === 'string') await writeFileAtomic(values.out, report);
  // One line per engine and width, at the first efSearch asked for: the median search.
  const svg = lineChartSvg({
    title: `Median search latency at k = ${K}, efSearch = ${efs[0]}, against reference-set size`,
    xLabel: 'reference points (log scale)',
    yLabel: 'ms per search (p50)',
    logX: true,
    series: engines.flatMap((engine) =>
      dims.map((dim) => ({
        name: `${engine} ${dim}-d`,
        points: points.filter((p) => p.engine === engine && p.dim === dim && p.efSearch === efs[0]).map((p): [number, number] => [p.size, p.p50Ms]),
      })),
    ),
  });
  await writeFileAtomic(svgPath, svg);
  process.stderr.write(`[curve] plot written to ${svgPath}\n`);
  return 0;
}

runMain('curve', main);
