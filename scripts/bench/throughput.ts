import { latenciesOf, runAutocannon } from './autocannon-run.js';
import { percentile, progress } from './stats.js';
import type { Workload } from './workload.js';

export interface ThroughputResult {
  connections: number;
  durationS: number;
  completed: number;
  requestsPerSecond: number;
  /** Latency percentiles in ms over every response, from send to the last byte. */
  p50: number;
  p99: number;
  errors: number;
  timeouts: number;
  non2xx: number;
}

/** Distinct digits cycled by every connection. */
const DISTINCT_BODIES = 200;

/**
 * Closed-loop load from autocannon: `connections` keep-alive connections on 127.0.0.1, each
 * sending its next POST /predict (batch 1) as soon as the previous answer arrives, for a fixed
 * duration. autocannon runs in this process, so it shares the machine's cores with the server.
 */
export async function measureThroughput(
  baseUrl: string,
  workload: Workload,
  opts: { connections: number; durationS: number },
): Promise<ThroughputResult> {
  progress(`throughput: autocannon, ${opts.connections} connection(s), ${opts.durationS} s`);
  const run = await runAutocannon(baseUrl, workload.bodies(1, DISTINCT_BODIES), {
    connections: opts.connections,
    durationS: opts.durationS,
    timeoutS: 10,
  });
  // autocannon's own histogram keeps whole milliseconds; the response event carries the
  // hrtime-based duration of each response, so the percentiles are computed from those instead.
  const samples = latenciesOf(run);
  const { result } = run;
  const completed = result.requests.total;
  return {
    connections: opts.connections,
    durationS: result.duration,
    completed,
    requestsPerSecond: completed / result.duration,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
  };
}
