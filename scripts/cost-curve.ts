/**
 * `npm run bench:curve`: what one indexed layer costs as the reference set grows. For synthetic
 * sets of 10k, 100k and 1M points at 64 and 256 dimensions it builds an HNSW graph with the
 * service's defaults and measures the build time, the memory the graph takes, the latency of
 * single searches at k = 75 and their recall against an exact scan. Prints a markdown report
 * and writes the latency plot as SVG (docs/cost-curve.svg unless --svg says otherwise).
 */
import { availableParallelism, cpus, totalmem } from 'node:os';
import { ExactIndex } from '../src/neighbors/exact-index.js';
import { HnswIndex, HnswParamsSchema } from '../src/neighbors/hnsw-index.js';
import { recallAtK } from '../src/neighbors/recall.js';
import { createRng, gaussian, type Rng } from '../src/math/random.js';
import { l2NormalizeRows } from '../src/math/normalize.js';
import { writeFileAtomic } from '../src/atomic-write.js';
import { lineChartSvg } from '../src/report/svg-line-chart.js';
import { numberOption, parseScriptArgs, runMain } from './bench/cli.js';
import { percentile } from './bench/stats.js';
import { table } from './bench/table.js';

const USAGE = `usage: npm run bench:curve -- [--sizes 10000,100000,1000000] [--dims 64,256] [--queries 1000] [--recall-queries 100] [--svg docs/cost-curve.svg] [--out FILE]
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
  size: number;
  dim: number;
  buildSeconds: number;
  graphMiB: number;
  p50Ms: number;
  p99Ms: number;
  recall: number;
}

function measure(size: number, dim: number, queries: number, recallQueries: number): CurvePoint {
  const rng = createRng(size + dim);
  const gauss = (len: number) => Float32Array.from({ length: len }, () => gaussian(rng) / Math.sqrt(dim));
  const centres = Array.from({ length: CLUSTERS }, () => gauss(dim).map((v) => v * Math.sqrt(dim)));
  const basis = Array.from({ length: CLUSTERS }, () => gauss(LATENT * dim));
  const points = clusteredPoints(size, dim, rng, basis, centres);
  const probes = clusteredPoints(queries, dim, rng, basis, centres);
  global.gc?.();
  const before = process.memoryUsage().rss;
  const params = HnswParamsSchema.parse({});
  const started = performance.now();
  const index = HnswIndex.create(dim, size, params);
  const chunk = 10_000;
  for (let start = 0; start < size; start += chunk) {
    const n = Math.min(chunk, size - start);
    index.addAll(points.subarray(start * dim, (start + n) * dim), n);
    if (size >= 100_000) process.stderr.write(`[curve] ${size} x ${dim}: ${start + n} inserted\r`);
  }
  const buildSeconds = (performance.now() - started) / 1000;
  const graphMiB = (process.memoryUsage().rss - before) / 2 ** 20;
  process.stderr.write(`\n[curve] ${size} x ${dim}: built in ${buildSeconds.toFixed(1)} s; searching\n`);
  const times: number[] = [];
  const found = [];
  for (let q = 0; q < queries; q++) {
    const t = performance.now();
    const [hit] = index.searchBatch(probes.subarray(q * dim, (q + 1) * dim), 1, K);
    times.push(performance.now() - t);
    if (q < recallQueries) found.push(hit);
  }
  const exact = new ExactIndex(dim);
  exact.addAll(points, size);
  const truth = exact.searchBatch(probes.subarray(0, recallQueries * dim), recallQueries, K);
  index.dispose();
  return {
    size,
    dim,
    buildSeconds,
    graphMiB,
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    recall: recallAtK(found, truth),
  };
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
    { sizes: { type: 'string' }, dims: { type: 'string' }, queries: { type: 'string' }, 'recall-queries': { type: 'string' }, svg: { type: 'string' }, out: { type: 'string' } },
    USAGE,
  );
  if (typeof values === 'number') return values;
  const sizes = list(values, 'sizes', [10_000, 100_000, 1_000_000], K);
  const dims = list(values, 'dims', [64, 256], 1);
  const queries = numberOption(values, 'queries', 1000, 1);
  const recallQueries = Math.min(queries, numberOption(values, 'recall-queries', 100, 1));
  const svgPath = typeof values.svg === 'string' ? values.svg : 'docs/cost-curve.svg';
  const points: CurvePoint[] = [];
  const started = performance.now();
  for (const dim of dims) for (const size of sizes) points.push(measure(size, dim, queries, recallQueries));
  const { M, efConstruction, efSearch } = HnswParamsSchema.parse({});
  const lines = [
    '### HNSW cost curve',
    '',
    `\`npm run bench:curve\`, ${new Date().toISOString()}, ${((performance.now() - started) / 1000).toFixed(0)} s in all; ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}.`,
    `One graph per row, built on one thread with the service's defaults (M = ${M}, efConstruction = ${efConstruction}, efSearch = ${efSearch}); ${queries} single searches at k = ${K}; recall@${K} against an exact scan on the first ${recallQueries} of them.`,
    '',
    ...table(
      ['points', 'dim', 'build (s)', 'graph memory (MiB)', 'search p50 (ms)', 'search p99 (ms)', `recall@${K}`],
      points.map((p) => [p.size, p.dim, p.buildSeconds.toFixed(1), p.graphMiB.toFixed(0), p.p50Ms.toFixed(3), p.p99Ms.toFixed(3), p.recall.toFixed(4)]),
    ),
    '',
  ];
  const report = `${lines.join('\n')}\n`;
  process.stdout.write(report);
  if (typeof values.out === 'string') await writeFileAtomic(values.out, report);
  const svg = lineChartSvg({
    title: `HNSW search latency at k = ${K} against reference-set size`,
    xLabel: 'reference points (log scale)',
    yLabel: 'ms per search',
    logX: true,
    series: dims.flatMap((dim) => {
      const at = points.filter((p) => p.dim === dim);
      return [
        { name: `${dim}-d p50`, points: at.map((p): [number, number] => [p.size, p.p50Ms]) },
        { name: `${dim}-d p99`, points: at.map((p): [number, number] => [p.size, p.p99Ms]) },
      ];
    }),
  });
  await writeFileAtomic(svgPath, svg);
  process.stderr.write(`[curve] plot written to ${svgPath}\n`);
  return 0;
}

runMain('curve', main);
