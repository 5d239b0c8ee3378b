/**
 * `npm run soak [-- --predictions N] [-- --batch B] [-- --connections C]`: a leak check. Spawns
 * the server, sends N predictions over HTTP (real MNIST test digits, cycling, with every 10th
 * instance uniform noise), samples /metrics every few seconds, and checks that the live tfjs
 * tensor count never moves after warm-up and that the server's RSS ends within 10% of where it
 * settled. Report on stdout, progress on stderr; exit 1 when a check fails. See docs/load.md.
 */
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { countOf, latenciesOf, latencyPercentiles, runAutocannon, type AutocannonRun } from './bench/autocannon-run.js';
import { numberOption, parseScriptArgs, runMain } from './bench/cli.js';
import { loadAverage, mib, readProcMemory } from './bench/proc.js';
import { parsePrometheus, scrapeMetrics, seriesValue } from './bench/prometheus.js';
import { ServerProcess } from './bench/server.js';
import { ms, progress, setProgressTag } from './bench/stats.js';
import { table } from './bench/table.js';
import { loadWorkload } from './bench/workload.js';

const MODEL = 'mnist';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE =
  'usage: npm run soak [-- --predictions N] [-- --batch B] [-- --connections C] [-- --sample-seconds S]\n' +
  '                    [-- --noise-every K] [-- --cache-dir DIR]\n';

/** Share of the predictions treated as warm-up: the checks look only at samples after it. */
const WARMUP_SHARE = 0.1;
/** The end RSS may differ from the settled RSS by at most this share. */
const RSS_TOLERANCE = 0.1;
/** Rounds of re-sending shed requests before giving up. */
const MAX_ROUNDS = 5;

interface Options {
  predictions: number;
  batch: number;
  connections: number;
  sampleSeconds: number;
  noiseEvery: number;
  cacheDir: string;
}

interface Sample {
  /** Seconds since the load started (negative: before it). */
  t: number;
  /** Instances scored since the load started, from ood_predictions_total. */
  done: number;
  tensors: number;
  /** Instances flagged as outliers since the load started. */
  outliers: number;
  rss: number;
  heapUsed: number;
  label: 'ready' | 'load' | 'end';
}

function parseOptions(): Options | number {
  const values = parseScriptArgs(
    {
      predictions: { type: 'string' },
      batch: { type: 'string' },
      connections: { type: 'string' },
      'sample-seconds': { type: 'string' },
      'noise-every': { type: 'string' },
      'cache-dir': { type: 'string' },
    },
    USAGE,
  );
  if (typeof values === 'number') return values;
  const int = (name: string, fallback: number, min: number) => numberOption(values, name, fallback, min);
  return {
    predictions: int('predictions', 100_000, 1),
    batch: int('batch', 1, 1),
    connections: int('connections', 4, 1),
    sampleSeconds: int('sample-seconds', 5, 1),
    noiseEvery: int('noise-every', 10, 0),
    cacheDir: resolve(String(values['cache-dir'] ?? process.env.OOD_CACHE_DIR ?? resolve(ROOT, '.cache'))),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function run(opts: Options, command: string): Promise<number> {
  const config = loadConfig({ ...process.env, OOD_MODEL: MODEL });
  const workload = await loadWorkload(resolve(ROOT, config.referenceSetsDir), MODEL);
  const requests = Math.ceil(opts.predictions / opts.batch);
  const predictions = requests * opts.batch;
  // One cycle through every test digit, with the noise interleaved; each connection cycles it.
  const instancesPerCycle = opts.noiseEvery > 1 ? (workload.digits * opts.noiseEvery) / (opts.noiseEvery - 1) : workload.digits;
  const perCycle = opts.noiseEvery === 1 ? 200 : Math.ceil(instancesPerCycle / opts.batch);
  const bodies = workload.bodies(opts.batch, Math.min(requests, perCycle), { noiseEvery: opts.noiseEvery, seed: 7 });
  const loadBefore = loadAverage();

  progress(`starting the server (cache ${opts.cacheDir})`);
  // A shed request logs a warning; they are counted here, not echoed one by one.
  const isShed = (line: string) => line.includes('"code":"OVERLOADED"');
  const { server, times } = await ServerProcess.start({ root: ROOT, cacheDir: opts.cacheDir, model: MODEL, quiet: isShed });
  progress(`ready in ${(times.readyMs / 1000).toFixed(1)} s; pid ${server.pid}`);
  // "The server is overloaded (event loop delay at 234 ms, bound 200 ms); ..." -> by reason, with the range.
  const shedReasons = new Map<string, { n: number; min: number; max: number }>();
  server.onLine((line) => {
    if (!isShed(line)) return;
    const m = /overloaded \(([a-z ]+) at (\d+)/.exec(line);
    const value = Number(m?.[2]);
    const key = m ? m[1] : 'unparsed';
    const r = shedReasons.get(key) ?? { n: 0, min: Infinity, max: -Infinity };
    r.n++;
    if (Number.isFinite(value)) [r.min, r.max] = [Math.min(r.min, value), Math.max(r.max, value)];
    shedReasons.set(key, r);
  });
  try {
    const samples: Sample[] = [];
    let base = 0;
    let baseOutliers = 0;
    let loadStarted = performance.now();
    const sample = async (label: Sample['label']): Promise<Sample> => {
      const text = await scrapeMetrics(server.baseUrl, 60_000);
      const m = parsePrometheus(text);
      const scored = m.get('ood_predictions_total') ?? Number.NaN;
      const outliers = seriesValue(text, 'ood_predictions_total', { outcome: 'outlier' });
      if (label === 'ready') {
        base = scored;
        baseOutliers = outliers;
      }
      const s: Sample = {
        t: (performance.now() - loadStarted) / 1000,
        done: scored - base,
        tensors: m.get('ood_tfjs_tensors') ?? Number.NaN,
        outliers: outliers - baseOutliers,
        rss: m.get('process_resident_memory_bytes') ?? Number.NaN,
        heapUsed: m.get('nodejs_heap_size_used_bytes') ?? Number.NaN,
        label,
      };
      samples.push(s);
      return s;
    };

    await sample('ready');
    progress(
      `soak: ${predictions} predictions in ${requests} requests of batch ${opts.batch}, ${opts.connections} connections, ` +
        `${bodies.length} distinct bodies (every ${opts.noiseEvery || '-'}th instance noise); /metrics every ${opts.sampleSeconds} s`,
    );
    loadStarted = performance.now();
    let inFlightScrape: Promise<unknown> = Promise.resolve();
    let scraping = false;
    const sampler = setInterval(() => {
      if (scraping) return;
      scraping = true;
      inFlightScrape = sample('load')
        .then((s) => progress(`t=${s.t.toFixed(0)} s: ${s.done} scored, tensors ${s.tensors}, RSS ${mib(s.rss)} MiB`))
        .catch((err: unknown) => progress(`metrics sample failed: ${(err as Error).message}`))
        .finally(() => {
          scraping = false;
        });
    }, opts.sampleSeconds * 1000);
    // A 503 OVERLOADED scores nothing, so shed requests are sent again in further rounds until
    // the server has scored every prediction: the soak is always N real predictions.
    const rounds: AutocannonRun[] = [];
    let ok200 = 0;
    try {
      while (ok200 < requests && rounds.length < MAX_ROUNDS) {
        const amount = requests - ok200;
        if (rounds.length > 0) progress(`round ${rounds.length + 1}: sending the ${amount} request(s) not answered 200 again`);
        const round = await runAutocannon(server.baseUrl, bodies, {
          connections: Math.min(opts.connections, amount),
          amount,
          timeoutS: 30,
        });
        rounds.push(round);
        ok200 += countOf(round, (s) => s === 200);
      }
    } finally {
      clearInterval(sampler);
    }
    const wallS = (performance.now() - loadStarted) / 1000;
    await inFlightScrape;
    server.assertAlive('the soak');
    const end = await sample('end');
    const proc = await readProcMemory(server.pid);
    const loadAfter = loadAverage();

    // The checks.
    const count = (pred: (s: number) => boolean) => rounds.reduce((n, r) => n + countOf(r, pred), 0);
    const shed = count((s) => s === 503);
    const other = count((s) => s !== 200 && s !== 503);
    const errors = rounds.reduce((n, r) => n + r.result.errors, 0);
    const sent = ok200 + shed + other + errors;
    const cut = WARMUP_SHARE * predictions;
    const post = samples.filter((s) => s.label !== 'ready' && s.done >= cut);
    const enough = post.length >= 3;
    const tensorBase = post[0]?.tensors ?? Number.NaN;
    const tensorsOk = enough && post.every((s) => s.tensors === tensorBase);
    const settled = median(post.map((s) => s.rss));
    const drift = (end.rss - settled) / settled;
    const rssOk = enough && Math.abs(drift) <= RSS_TOLERANCE;
    const allAnswered = ok200 === requests && other === 0 && errors === 0 && end.done === predictions;
    const lat = latencyPercentiles(rounds.flatMap((r) => latenciesOf(r)));
    const shed503 = latencyPercentiles(rounds.flatMap((r) => latenciesOf(r, (s) => s === 503)));

    const lines = [
      '# ood-service soak',
      '',
      `\`${command}\`, ${new Date().toISOString()}; server pid ${server.pid}, LOG_LEVEL=warn, other OOD_* from the environment.`,
      `Load average (1, 5, 15 min): ${loadBefore} before, ${loadAfter} after.`,
      '',
      '## Samples of /metrics',
      '',
      ...table(
        ['t (s)', 'predictions scored', 'predictions/s since last', 'ood_tfjs_tensors', 'RSS (MiB)', 'heap used (MiB)', 'phase'],
        samples.map((s, i) => {
          const prev = samples[i - 1];
          const rate = prev && s.label !== 'ready' ? ((s.done - prev.done) / Math.max(1e-9, s.t - prev.t)).toFixed(0) : '';
          const phase = s.label === 'ready' ? 'ready, before load' : s.label === 'end' ? 'end' : s.done >= cut ? 'after warm-up' : 'warm-up';
          return [s.t.toFixed(1), s.done, rate, s.tensors, mib(s.rss), mib(s.heapUsed), phase];
        }),
      ),
      '',
      '## Summary',
      '',
      ...table(
        [
          'predictions',
          'batch',
          'connections',
          'requests sent',
          'rounds',
          'wall time (s)',
          'predictions/s',
          'p50 (ms)',
          'p99 (ms)',
          '200',
          '503',
          'other',
          'errors',
        ],
        [
          [
            predictions,
            opts.batch,
            opts.connections,
            sent,
            rounds.length,
            wallS.toFixed(1),
            (end.done / wallS).toFixed(1),
            ms(lat.p50),
            ms(lat.p99),
            ok200,
            shed,
            other,
            errors,
          ],
        ],
      ),
      '',
      `Flagged as outliers: ${end.outliers} of ${end.done} (${((100 * end.outliers) / end.done).toFixed(1)}%; ` +
        `${opts.noiseEvery ? `${(100 / opts.noiseEvery).toFixed(1)}% of the instances are noise` : 'no noise sent'}). ` +
        `Peak RSS of the server since it started (VmHWM): ${mib(proc?.hwm ?? Number.NaN)} MiB.`,
      '',
      ...(shed
        ? [
            `The server shed ${shed} requests with 503 OVERLOADED (p50 ${ms(shed503.p50)} ms, max ${ms(shed503.max)} ms); ` +
              'they scored nothing and were sent again. The reasons the server logged: ' +
              [...shedReasons].map(([key, r]) => `${key}${r.max >= r.min ? ` at ${r.min}-${r.max}` : ''}: ${r.n}`).join('; ') +
              '.',
            '',
          ]
        : []),
      '## Verdict',
      '',
      `Warm-up: the first ${WARMUP_SHARE * 100}% of the predictions (${cut}). ` +
        `The checks use the ${post.length} samples taken after it, the end sample included.`,
      '',
      `- tensors: ${tensorsOk ? 'PASS' : 'FAIL'}: ood_tfjs_tensors after warm-up ${[...new Set(post.map((s) => s.tensors))].join(', ')} ` +
        `(first ${tensorBase}, end ${end.tensors}; must be equal in every sample)` +
        (samples[0] ? `; at ready, before any request: ${samples[0].tensors}` : ''),
      `- RSS: ${rssOk ? 'PASS' : 'FAIL'}: settled (median of the samples after warm-up) ${mib(settled)} MiB, end ${mib(end.rss)} MiB, ` +
        `${drift >= 0 ? '+' : ''}${(drift * 100).toFixed(1)}% (limit ±${RSS_TOLERANCE * 100}%)`,
      `- all scored: ${allAnswered ? 'PASS' : 'FAIL'}: ${ok200} of ${requests} requests answered 200 (${shed} shed with 503 and sent again), ` +
        `${other} other statuses, ${errors} errors; the server scored ${end.done} of ${predictions} predictions`,
      ...(enough ? [] : ['- too few samples after warm-up to judge (need 3): raise --predictions or lower --sample-seconds']),
      '',
    ];
    process.stdout.write(lines.join('\n'));
    return tensorsOk && rssOk && allAnswered ? 0 : 1;
  } finally {
    await server.stop();
  }
}

async function main(): Promise<number> {
  setProgressTag('soak');
  let opts: Options | number;
  try {
    opts = parseOptions();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (typeof opts === 'number') return opts;
  const args = process.argv.slice(2);
  return run(opts, `npm run soak${args.length ? ` -- ${args.join(' ')}` : ''}`);
}

runMain('soak', main);
