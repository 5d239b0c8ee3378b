import { latenciesOf, latencyPercentiles, runAutocannon } from './autocannon-run.js';
import { progress } from './stats.js';
import type { Workload } from './workload.js';

/** The loads of the comparison: one request at a time, many single requests, and fewer large batches. */
export const SIDE_BY_SIDE_LOADS = [
  { batch: 1, connections: 1 },
  { batch: 1, connections: 16 },
  { batch: 32, connections: 4 },
] as const;

export interface SideBySideRow {
  server: string;
  batch: number;
  connections: number;
  requestsPerSecond: number;
  predictionsPerSecond: number;
  /** Of the 2xx answers, from each response's own timing. */
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

/**
 * The same closed-loop autocannon load, with the same bodies, against each server in turn, one
 * load at a time: the figures of one load are taken minutes apart at most, on one machine.
 */
export async function measureSideBySide(
  servers: { name: string; baseUrl: string }[],
  workload: Workload,
  durationS: number,
): Promise<SideBySideRow[]> {
  const rows: SideBySideRow[] = [];
  for (const load of SIDE_BY_SIDE_LOADS) {
    const bodies = workload.bodies(load.batch, load.batch === 1 ? 200 : 20);
    for (const server of servers) {
      progress(`side by side: ${server.name}, batch ${load.batch}, ${load.connections} connection(s), ${durationS} s`);
      const run = await runAutocannon(server.baseUrl, bodies, { connections: load.connections, durationS, timeoutS: 30 });
      const { result } = run;
      const answered = result.requests.total - result.non2xx;
      const { p50, p99 } = latencyPercentiles(latenciesOf(run, (status) => status >= 200 && status < 300));
      rows.push({
        server: server.name,
        batch: load.batch,
        connections: load.connections,
        requestsPerSecond: answered / result.duration,
        predictionsPerSecond: (answered * load.batch) / result.duration,
        p50Ms: p50,
        p99Ms: p99,
        non2xx: result.non2xx,
        errors: result.errors,
      });
    }
  }
  return rows;
}

/** Each server's predictions/s over the anchor's, and its p50 over the anchor's, per load. */
export function ratios(rows: SideBySideRow[], anchor: string): { server: string; batch: number; connections: number; ratio: number; p50Ratio: number }[] {
  return rows
    .filter((r) => r.server !== anchor)
    .map((r) => {
      const base = rows.find((a) => a.server === anchor && a.batch === r.batch && a.connections === r.connections);
      return {
        server: r.server,
        batch: r.batch,
        connections: r.connections,
        ratio: base ? r.predictionsPerSecond / base.predictionsPerSecond : Number.NaN,
        p50Ratio: base ? r.p50Ms / base.p50Ms : Number.NaN,
      };
    });
}
