/**
 * `npm run load`: how the server holds up past its capacity and how it stops under load.
 * (a) the sustainable rate R, closed loop; (b) 1x: 0.9 R offered; (c) 5x: 5 R offered, where the
 * server must shed with quick 503s and keep answering its probes; (d) SIGTERM in the middle of
 * 1x load, on a second server, where no accepted request may be dropped. Report on stdout,
 * progress on stderr; exit 1 when a verdict fails. See docs/load.md.
 */
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { countOf, latenciesOf, latencyPercentiles, runAutocannon, type AutocannonRun } from './bench/autocannon-run.js';
import { numberOption, parseScriptArgs, runMain } from './bench/cli.js';
import { httpRequest } from './bench/http.js';
import { describeMachine } from './bench/machine.js';
import { loadAverage, mib, RssSampler } from './bench/proc.js';
import { scrapeMetrics, seriesValue } from './bench/prometheus.js';
import { ServerProcess } from './bench/server.js';
import { ms, progress, setProgressTag } from './bench/stats.js';
import { table } from './bench/table.js';
import { loadWorkload } from './bench/workload.js';
import { OpenLoopClient, OUTCOMES, outcomeOf, type Outcome, type RequestRecord } from './load/open-loop-client.js';

const MODEL = 'mnist';
const DISTINCT_BODIES = 200;
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE =
  'usage: npm run load [-- --connections C] [-- --find-seconds S] [-- --phase-seconds S] [-- --overload-connections C]\n' +
  '                    [-- --rate-factor F] [-- --sigterm-after S] [-- --max-event-loop-delay-ms MS] [-- --cache-dir DIR]\n';

interface Options {
  connections: number;
  findSeconds: number;
  phaseSeconds: number;
  overloadConnections: number;
  /** 1x offers rateFactor x R. */
  rateFactor: number;
  sigtermAfterS: number;
  maxEventLoopDelayMs: number;
  cacheDir: string;
}

interface PhaseResult {
  name: string;
  connections: number;
  offered: string;
  durationS: number;
  ok: number;
  s503: number;
  other: number;
  errors: number;
  timeouts: number;
  errorCodes: string;
  held: number;
  all: { p50: number; p99: number; max: number };
  ok200: { p50: number; p99: number; max: number };
  shed: { p50: number; p99: number; max: number };
  peakRss: number;
  hwm: number;
  /** From the server's ood_http_request_duration_seconds_count for POST /predict, this phase. */
  server200: number;
  server503: number;
  loadAvg: string;
}

/** Per-request log lines are counted, not echoed; start-up and shutdown lines still show. */
const quiet = (line: string) => /"msg":"(incoming request|request completed|request refused|request rejected)"/.test(line);

function parseOptions(): Options | number {
  const values = parseScriptArgs(
    {
      connections: { type: 'string' },
      'find-seconds': { type: 'string' },
      'phase-seconds': { type: 'string' },
      'overload-connections': { type: 'string' },
      'rate-factor': { type: 'string' },
      'sigterm-after': { type: 'string' },
      'max-event-loop-delay-ms': { type: 'string' },
      'cache-dir': { type: 'string' },
    },
    USAGE,
  );
  if (typeof values === 'number') return values;
  const num = (name: string, fallback: number, min: number, integer = true) => numberOption(values, name, fallback, min, integer);
  return {
    connections: num('connections', 16, 1),
    findSeconds: num('find-seconds', 15, 1),
    phaseSeconds: num('phase-seconds', 20, 1),
    overloadConnections: num('overload-connections', 200, 1),
    rateFactor: num('rate-factor', 0.9, 0.01, false),
    sigtermAfterS: num('sigterm-after', 5, 1),
    maxEventLoopDelayMs: num('max-event-loop-delay-ms', 200, 0),
    cacheDir: resolve(String(values['cache-dir'] ?? process.env.OOD_CACHE_DIR ?? resolve(ROOT, '.cache'))),
  };
}

async function predictCounts(baseUrl: string): Promise<{ s200: number; s503: number }> {
  const text = await scrapeMetrics(baseUrl, 30_000);
  const count = (status: string) =>
    seriesValue(text, 'ood_http_request_duration_seconds_count', { method: 'POST', route: '/predict', status_code: status });
  return { s200: count('200'), s503: count('503') };
}

async function autocannonPhase(
  server: ServerProcess,
  bodies: string[],
  name: string,
  opts: { connections: number; durationS: number; overallRate?: number },
): Promise<{ phase: PhaseResult; run: AutocannonRun }> {
  progress(
    `${name}: ${opts.connections} connections, ` +
      `${opts.overallRate === undefined ? 'unthrottled' : `overallRate ${opts.overallRate}/s`}, ${opts.durationS} s`,
  );
  const before = await predictCounts(server.baseUrl);
  const rss = new RssSampler(server.pid);
  const run = await runAutocannon(server.baseUrl, bodies, { ...opts, timeoutS: 10 });
  const mem = await rss.stop();
  server.assertAlive(name);
  const after = await predictCounts(server.baseUrl);
  const ok = countOf(run, (s) => s >= 200 && s < 300);
  const phase: PhaseResult = {
    name,
    connections: opts.connections,
    offered: opts.overallRate === undefined ? 'closed loop' : `${opts.overallRate}/s`,
    durationS: run.durationS,
    ok,
    s503: countOf(run, (s) => s === 503),
    other: countOf(run, (s) => (s < 200 || s >= 300) && s !== 503),
    errors: run.result.errors,
    timeouts: run.result.timeouts,
    errorCodes: [...run.errorsByCode].map(([code, n]) => `${code} ${n}`).join(', ') || '-',
    held: ok / run.durationS,
    all: latencyPercentiles(latenciesOf(run)),
    ok200: latencyPercentiles(latenciesOf(run, (s) => s >= 200 && s < 300)),
    shed: latencyPercentiles(latenciesOf(run, (s) => s === 503)),
    peakRss: mem.peakRss,
    hwm: mem.hwm,
    server200: after.s200 - before.s200,
    server503: after.s503 - before.s503,
    loadAvg: loadAverage(),
  };
  progress(
    `${name}: ${phase.held.toFixed(1)} 2xx/s, 200 ${phase.ok}, 503 ${phase.s503}, other ${phase.other}, errors ${phase.errors}, ` +
      `p99 ${ms(phase.all.p99)} ms, peak RSS ${mib(phase.peakRss)} MiB`,
  );
  return { phase, run };
}

/** GET /healthz every intervalMs on a fresh connection until stopped: how the probe fares under load. */
function probeHealthz(baseUrl: string, intervalMs: number): () => Promise<{ probes: number; failures: number; maxMs: number }> {
  let stopped = false;
  const stats = { probes: 0, failures: 0, maxMs: 0 };
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      const status = await httpRequest(`${baseUrl}/healthz`, { timeoutMs: 5_000 }).then(
        (r) => r.status,
        () => 0,
      );
      stats.probes++;
      if (status !== 200) stats.failures++;
      stats.maxMs = Math.max(stats.maxMs, performance.now() - started);
      await sleep(intervalMs);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    return stats;
  };
}

interface LogLine {
  msg?: string;
  signal?: string;
  /** closing: requests in flight when close began; closed: requests whose response never ended. */
  inFlight?: number;
  /** Requests that ended with their whole response sent, since close began. */
  answered?: number;
  /** Requests whose socket closed before their response was complete, since close began. */
  unfinished?: number;
  /** Older servers logged this one figure instead of unfinished + inFlight. */
  unanswered?: number;
}

/** Requests the server accepted (its first onRequest hook ran) that did not get a whole answer. */
function unansweredOf(closed: LogLine | undefined): number | undefined {
  if (!closed) return undefined;
  if (closed.unanswered !== undefined) return closed.unanswered;
  if (closed.unfinished === undefined || closed.inFlight === undefined) return undefined;
  return closed.unfinished + closed.inFlight;
}

/** Records the server's `closing` and `closed` log lines. */
function watchClose(server: ServerProcess): { closing?: LogLine; closed?: LogLine } {
  const seen: { closing?: LogLine; closed?: LogLine } = {};
  server.onLine((line) => {
    if (!line.includes('"msg":"clos')) return;
    try {
      const parsed = JSON.parse(line) as LogLine;
      if (parsed.msg?.startsWith('closing')) seen.closing = parsed;
      else if (parsed.msg === 'closed') seen.closed = parsed;
    } catch {
      // not a JSON line
    }
  });
  return seen;
}

interface SigtermResult {
  rate: number;
  sigtermAtS: number;
  exitAfterS: number;
  exitCode: number | null;
  exitSignal: string | null;
  counts: Map<Outcome, { before: number; after: number; firstS: number; lastS: number }>;
  connectionClose: number;
  closing?: LogLine;
  closed?: LogLine;
  peakRss: number;
  issued: number;
  /** Requests issued but not settled at SIGTERM: written on a socket, or waiting in the agent's queue. */
  atSigterm: { outstanding: number; written: number; queued: number };
  /** Before SIGTERM: 200s per second, and their latency from issue (queueing in the client included). */
  before: { okPerS: number; p50: number; p99: number };
  /** Client error codes by outcome. */
  errorCodes: string;
  /** Errors on requests that were fully written on an established connection. */
  writtenThenLost: RequestRecord[];
  loadAvg: string;
}

async function sigtermPhase(
  server: ServerProcess,
  bodies: string[],
  opts: { rate: number; maxSockets: number; sigtermAfterS: number; shutdownTimeoutMs: number },
): Promise<SigtermResult> {
  const seen = watchClose(server);
  const rss = new RssSampler(server.pid);
  const client = new OpenLoopClient(`${server.baseUrl}/predict`, bodies, { rate: opts.rate, maxSockets: opts.maxSockets, timeoutMs: 30_000 });
  progress(`sigterm: open loop at ${opts.rate}/s on up to ${opts.maxSockets} keep-alive sockets; SIGTERM after ${opts.sigtermAfterS} s`);
  const started = performance.now();
  client.start();
  await sleep(opts.sigtermAfterS * 1000);
  const sigtermAt = performance.now();
  server.signal('SIGTERM');
  const outstanding = client.records.filter((r) => r.settledAt === undefined);
  const atSigterm = {
    outstanding: outstanding.length,
    written: outstanding.filter((r) => r.written).length,
    queued: outstanding.filter((r) => !r.socket).length,
  };
  const limit = opts.shutdownTimeoutMs + 10_000;
  const exit = await Promise.race([server.exit, sleep(limit, undefined)]);
  const exitedAt = performance.now();
  if (!exit) progress(`sigterm: the server did not exit within ${limit / 1000} s`);
  await client.stop();
  const mem = await rss.stop();
  await server.stop(); // releases the finaliser; kills it if it is somehow still running
  // Per outcome: how many were issued before and after SIGTERM, and when they settled (s after SIGTERM).
  const counts = new Map<Outcome, { before: number; after: number; firstS: number; lastS: number }>(
    OUTCOMES.map((o) => [o, { before: 0, after: 0, firstS: Infinity, lastS: -Infinity }]),
  );
  for (const r of client.records) {
    const c = counts.get(outcomeOf(r));
    if (!c) continue;
    c[r.issuedAt < sigtermAt ? 'before' : 'after']++;
    if (r.settledAt !== undefined) {
      const at = (r.settledAt - sigtermAt) / 1000;
      c.firstS = Math.min(c.firstS, at);
      c.lastS = Math.max(c.lastS, at);
    }
  }
  const okBefore = client.records.filter((r) => r.status === 200 && r.settledAt !== undefined && r.settledAt < sigtermAt);
  const okLatency = latencyPercentiles(okBefore.map((r) => (r.settledAt ?? 0) - r.issuedAt));
  const codes = new Map<string, number>();
  for (const r of client.records) {
    if (r.error === undefined) continue;
    const key = `${outcomeOf(r)}: ${r.error}`;
    codes.set(key, (codes.get(key) ?? 0) + 1);
  }
  return {
    atSigterm,
    before: { okPerS: okBefore.length / ((sigtermAt - started) / 1000), p50: okLatency.p50, p99: okLatency.p99 },
    errorCodes: [...codes].map(([k, v]) => `${k} x ${v}`).join('; ') || '-',
    rate: opts.rate,
    sigtermAtS: (sigtermAt - started) / 1000,
    exitAfterS: (exitedAt - sigtermAt) / 1000,
    exitCode: exit ? exit.code : null,
    exitSignal: exit ? exit.signal : null,
    counts,
    connectionClose: client.records.filter((r) => r.connectionClose).length,
    closing: seen.closing,
    closed: seen.closed,
    peakRss: mem.peakRss,
    issued: client.records.length,
    writtenThenLost: client.records.filter((r) => outcomeOf(r) === 'reset after the request was written, no answer'),
    loadAvg: loadAverage(),
  };
}

async function run(opts: Options, command: string): Promise<number> {
  const config = loadConfig({ ...process.env, OOD_MODEL: MODEL });
  const workload = await loadWorkload(resolve(ROOT, config.referenceSetsDir), MODEL);
  // 200 distinct bodies (180 test digits, every 10th body uniform noise). Not more: autocannon
  // builds every body's request buffer once per connection, and (c) runs hundreds of connections.
  const bodies = workload.bodies(1, DISTINCT_BODIES, { noiseEvery: 10, seed: 11 });
  const env = { OOD_MAX_EVENT_LOOP_DELAY_MS: String(opts.maxEventLoopDelayMs) };
  const serverEnv = { ...env, LOG_LEVEL: 'info' };
  const { shutdownTimeoutMs, drainDelayMs } = loadConfig(process.env);
  const loadBefore = loadAverage();

  progress(`starting server 1 (cache ${opts.cacheDir}, ${Object.entries(serverEnv).map(([k, v]) => `${k}=${v}`).join(' ')})`);
  let { server } = await ServerProcess.start({ root: ROOT, cacheDir: opts.cacheDir, model: MODEL, env, logLevel: 'info', quiet });
  const machine = await describeMachine(server.baseUrl);
  const phases: PhaseResult[] = [];
  let healthz = { probes: 0, failures: 0, maxMs: 0 };
  let healthzAfter = 0;
  let closeOfFirst: { closing?: LogLine; closed?: LogLine } = {};
  let R: number;
  try {
    progress('warm-up: 3 s unthrottled, not reported');
    await runAutocannon(server.baseUrl, bodies, { connections: opts.connections, durationS: 3, timeoutS: 10 });

    const a = await autocannonPhase(server, bodies, '(a) sustainable rate', { connections: opts.connections, durationS: opts.findSeconds });
    phases.push(a.phase);
    R = a.phase.held;
    if (!(R > 0)) throw new Error('phase (a) held no 2xx throughput; nothing to scale from');

    const rate1 = Math.max(1, Math.round(opts.rateFactor * R));
    const b = await autocannonPhase(server, bodies, `(b) 1x`, { connections: opts.connections, durationS: opts.phaseSeconds, overallRate: rate1 });
    phases.push(b.phase);

    const rate5 = Math.round(5 * R);
    const stopProbe = probeHealthz(server.baseUrl, 500);
    const c = await autocannonPhase(server, bodies, `(c) 5x`, {
      connections: opts.overloadConnections,
      durationS: opts.phaseSeconds,
      overallRate: rate5,
    });
    healthz = await stopProbe();
    phases.push(c.phase);
    healthzAfter = await httpRequest(`${server.baseUrl}/healthz`, { timeoutMs: 5_000 }).then(
      (r) => r.status,
      () => 0,
    );
    closeOfFirst = watchClose(server);
  } finally {
    await server.stop();
  }

  progress('starting server 2 for the SIGTERM phase (same settings)');
  ({ server } = await ServerProcess.start({ root: ROOT, cacheDir: opts.cacheDir, model: MODEL, env, logLevel: 'info', quiet }));
  // A few requests first, so the JIT and the keep-alive sockets are warm as in (b).
  await runAutocannon(server.baseUrl, bodies, { connections: opts.connections, durationS: 2, timeoutS: 10 });
  const d = await sigtermPhase(server, bodies, {
    rate: Math.max(1, Math.round(opts.rateFactor * R)),
    maxSockets: opts.connections,
    sigtermAfterS: opts.sigtermAfterS,
    shutdownTimeoutMs,
  });
  const loadAfter = loadAverage();

  // Verdicts.
  const c = phases[2];
  const overloadOk = c.other === 0 && c.errors === 0 && c.timeouts === 0 && healthzAfter === 200;
  const n = (o: Outcome) => (d.counts.get(o)?.before ?? 0) + (d.counts.get(o)?.after ?? 0);
  const otherThan200or503 = n('other status');
  const unanswered = unansweredOf(d.closed);
  const lostAnswers = d.closed?.answered === undefined ? undefined : d.closed.answered - d.connectionClose;
  const sigtermChecks = {
    exit: d.exitCode === 0,
    unanswered: unanswered === 0,
    statuses: otherThan200or503 === 0 && n('timeout') === 0 && n('pending') === 0,
    noLostAnswer: lostAnswers === 0,
  };
  const sigtermOk = Object.values(sigtermChecks).every(Boolean);
  const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

  const lines = [
    '# ood-service load test',
    '',
    `\`${command}\`, ${new Date().toISOString()}.`,
    '',
    ...table(
      ['CPU', 'cores', 'OS', 'Node', 'tfjs backend', 'load average before (1, 5, 15 min)', 'after'],
      [[machine.cpuModel, machine.cpuCount, machine.os, machine.node, machine.serverBackend, loadBefore, loadAfter]],
    ),
    '',
    `Server settings: ${Object.entries(serverEnv).map(([k, v]) => `${k}=${v}`).join(', ')}, ` +
      `OOD_SHUTDOWN_TIMEOUT_MS=${shutdownTimeoutMs}, OOD_DRAIN_DELAY_MS=${drainDelayMs}; other OOD_* from the environment. ` +
      `Bodies: one instance each, ${DISTINCT_BODIES} distinct (MNIST test digits, every 10th uniform noise), cycled. ` +
      `R = held 2xx/s of (a); 1x offers round(${opts.rateFactor} R), 5x offers round(5 R).`,
    '',
    '## (a)-(c) autocannon',
    '',
    ...table(
      [
        'phase',
        'connections',
        'offered',
        'duration (s)',
        'held 2xx/s',
        'p50 all (ms)',
        'p99 all (ms)',
        'p99 200 (ms)',
        '200',
        '503',
        'other',
        'errors',
        'timeouts',
        'p50 503 (ms)',
        'p99 503 (ms)',
        'max 503 (ms)',
        'server 200/503',
        'peak RSS (MiB)',
        'load avg after',
      ],
      phases.map((p) => [
        p.name,
        p.connections,
        p.offered,
        p.durationS.toFixed(1),
        p.held.toFixed(1),
        ms(p.all.p50),
        ms(p.all.p99),
        ms(p.ok200.p99),
        p.ok,
        p.s503,
        p.other,
        p.errors,
        p.timeouts,
        ms(p.shed.p50),
        ms(p.shed.p99),
        ms(p.shed.max),
        `${p.server200}/${p.server503}`,
        mib(p.peakRss),
        p.loadAvg,
      ]),
    ),
    '',
    `Error codes: ${phases.map((p) => `${p.name}: ${p.errorCodes}`).join('; ')}. VmHWM of server 1 after (c): ${mib(c.hwm)} MiB.`,
    `/healthz during (c): ${healthz.probes} probes, ${healthz.failures} failed, slowest ${ms(healthz.maxMs)} ms; after (c): ${healthzAfter}.`,
    closeOfFirst.closed
      ? `Server 1 on its SIGTERM after (c): closing inFlight=${closeOfFirst.closing?.inFlight}; closed answered=${closeOfFirst.closed.answered}, ` +
        `unfinished=${closeOfFirst.closed.unfinished}, inFlight=${closeOfFirst.closed.inFlight}.`
      : 'Server 1 logged no `closed` line.',
    '',
    '## (d) SIGTERM under 1x load (server 2, open-loop node:http client, keep-alive agent)',
    '',
    `Offered ${d.rate}/s on up to ${opts.connections} sockets; SIGTERM at t=${d.sigtermAtS.toFixed(2)} s; the server exited ` +
      `${d.exitAfterS.toFixed(2)} s later with ${d.exitSignal ? `signal ${d.exitSignal}` : `code ${d.exitCode}`}; ${d.issued} requests issued; ` +
      `peak RSS ${mib(d.peakRss)} MiB; load average after ${d.loadAvg}.`,
    `Before SIGTERM: ${d.before.okPerS.toFixed(1)} 200/s, latency from issue (client queue included) p50 ${ms(d.before.p50)} ms, p99 ${ms(d.before.p99)} ms. ` +
      `At SIGTERM ${d.atSigterm.outstanding} requests were outstanding: ${d.atSigterm.written} written on a socket, ` +
      `${d.atSigterm.queued} waiting in the client's agent queue for a socket. Client errors: ${d.errorCodes}.`,
    '',
    ...table(
      ['client outcome', 'issued before SIGTERM', 'issued after SIGTERM', 'total', 'settled (s after SIGTERM)'],
      OUTCOMES.filter((o) => n(o) > 0 || o === '200' || o === '503 NOT_READY' || o === 'refused: never connected').map((o) => {
        const c = d.counts.get(o);
        const when = c && n(o) > 0 ? `${c.firstS.toFixed(2)} to ${c.lastS.toFixed(2)}` : '-';
        return [o, c?.before ?? 0, c?.after ?? 0, n(o), when];
      }),
    ),
    '',
    ...table(
      ['server log', 'value'],
      [
        ['closing: inFlight', d.closing?.inFlight ?? 'missing'],
        ['closed: answered (whole answer sent, since close began)', d.closed?.answered ?? 'missing'],
        ['closed: unfinished (socket closed before the answer was complete)', d.closed?.unfinished ?? 'not logged'],
        ['closed: inFlight (answer never ended)', d.closed?.inFlight ?? 'not logged'],
        ['client: answers with Connection: close', d.connectionClose],
        ['exit code', d.exitCode ?? `none (${d.exitSignal ?? 'still running'})`],
      ],
    ),
    '',
    '## Verdicts',
    '',
    `- 5x: ${pass(overloadOk)}: every response 200 or 503 (${c.ok} + ${c.s503}, other ${c.other}), ` +
      `errors ${c.errors}, timeouts ${c.timeouts}, /healthz after: ${healthzAfter}`,
    `- SIGTERM: ${pass(sigtermOk)}:`,
    `  - exit code 0: ${pass(sigtermChecks.exit)} (${d.exitCode})`,
    `  - accepted but unanswered (unfinished + inFlight) == 0: ${pass(sigtermChecks.unanswered)} (${unanswered ?? 'missing'})`,
    `  - only 200 or 503, no timeout: ${pass(sigtermChecks.statuses)} ` +
      `(other status ${otherThan200or503}, timeouts ${n('timeout')}, unsettled ${n('pending')})`,
    `  - every answer sent while closing arrived: ${pass(sigtermChecks.noLostAnswer)} ` +
      `(server answered ${d.closed?.answered ?? 'missing'}, client got ${d.connectionClose} with Connection: close)`,
    `  - written on an established connection, then reset with no answer: ${d.writtenThenLost.length}` +
      (d.writtenThenLost.length
        ? ` (${d.writtenThenLost.filter((r) => r.reused).length} on reused keep-alive sockets)` +
          (sigtermChecks.unanswered && sigtermChecks.noLostAnswer
            ? '; the server counted no unanswered request and every answer it sent arrived, so it never read these: not accepted'
            : '; the server-side checks failed, so some of these may have been accepted')
        : ''),
    '',
  ];
  process.stdout.write(lines.join('\n'));
  return overloadOk && sigtermOk ? 0 : 1;
}

async function main(): Promise<number> {
  setProgressTag('load');
  let opts: Options | number;
  try {
    opts = parseOptions();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (typeof opts === 'number') return opts;
  const args = process.argv.slice(2);
  return run(opts, `npm run load${args.length ? ` -- ${args.join(' ')}` : ''}`);
}

runMain('load', main);
