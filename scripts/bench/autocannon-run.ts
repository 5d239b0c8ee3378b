import autocannon from 'autocannon';
import { percentile } from './stats.js';

export interface AutocannonRunOptions {
  connections: number;
  /** Seconds; autocannon stops at its next 1-second tick after it. */
  durationS?: number;
  /** Total requests instead of a duration. */
  amount?: number;
  /** Requests per second over all connections; absent means closed loop, as fast as answered. */
  overallRate?: number;
  /** Seconds before a request counts as a timeout. */
  timeoutS?: number;
  /** Called for every response, e.g. to count predictions as they are answered. */
  onResponse?: (status: number) => void;
}

export interface AutocannonRun {
  result: autocannon.Result;
  /** Wall time of the run in seconds (autocannon's own `duration`). */
  durationS: number;
  /** Every response's own hrtime duration in ms, by status code (autocannon's histogram keeps whole ms). */
  latencies: Map<number, number[]>;
  /** Connection errors and timeouts by error code (`timeout` for timeouts). */
  errorsByCode: Map<string, number>;
}

/**
 * POST /predict with autocannon in this process, cycling through `bodies` on every connection.
 * autocannon builds the request buffer of every body once per connection, synchronously, before
 * the first request: keep bodies x connections to a few tens of thousands, or the client stalls.
 */
export async function runAutocannon(baseUrl: string, bodies: string[], opts: AutocannonRunOptions): Promise<AutocannonRun> {
  const instance = autocannon({
    url: `${baseUrl}/predict`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    requests: bodies.map((body) => ({ body })),
    connections: opts.connections,
    ...(opts.durationS === undefined ? {} : { duration: opts.durationS }),
    ...(opts.amount === undefined ? {} : { amount: opts.amount }),
    ...(opts.overallRate === undefined ? {} : { overallRate: opts.overallRate }),
    timeout: opts.timeoutS ?? 10,
  });
  const latencies = new Map<number, number[]>();
  instance.on('response', (_client: unknown, status: number, _bytes: number, responseTime: number) => {
    let list = latencies.get(status);
    if (!list) latencies.set(status, (list = []));
    list.push(responseTime);
    opts.onResponse?.(status);
  });
  const errorsByCode = new Map<string, number>();
  instance.on('reqError', (err: NodeJS.ErrnoException) => {
    const code = err.message === 'request timed out' ? 'timeout' : (err.code ?? err.message);
    errorsByCode.set(code, (errorsByCode.get(code) ?? 0) + 1);
  });
  // The duration bounds the run; this only guards against autocannon never finishing.
  const guard =
    opts.durationS === undefined ? undefined : setTimeout(() => instance.stop(), (opts.durationS + 30) * 1000);
  try {
    const result = await instance;
    return { result, durationS: result.duration, latencies, errorsByCode };
  } finally {
    clearTimeout(guard);
  }
}

/** Latencies of the given statuses (all of them when absent), merged. */
export function latenciesOf(run: AutocannonRun, statuses?: (status: number) => boolean): number[] {
  const out: number[] = [];
  for (const [status, list] of run.latencies) if (!statuses || statuses(status)) out.push(...list);
  return out;
}

export function countOf(run: AutocannonRun, statuses: (status: number) => boolean): number {
  let n = 0;
  for (const [status, list] of run.latencies) if (statuses(status)) n += list.length;
  return n;
}

export function latencyPercentiles(samples: number[]): { p50: number; p99: number; max: number } {
  return {
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: samples.length ? samples.reduce((a, b) => Math.max(a, b), -Infinity) : Number.NaN,
  };
}
