import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { instanceBatches, restSender, takeTurns, v2InputOf } from './take-turns.js';
import type { Workload } from './workload.js';

/**
 * What tracing costs: the same REST v2 load against two servers of the same build, one with
 * nothing set (no SDK) and one exporting every span over OTLP to a sink in this process, taking
 * turns in short rounds so that only one is loaded at a time.
 */
export interface TracingRow {
  tracing: 'off' | 'on (OTLP)';
  batch: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export const TRACING_LOADS = [{ batch: 1 }, { batch: 32 }] as const;

/** An OTLP/HTTP endpoint that takes every export and counts them: the collector's cost stays out of the figures. */
export async function otlpSink(): Promise<{ url: string; exports(): number; close(): Promise<void> }> {
  let exports = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/v1/traces') exports++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    exports: () => exports,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export async function measureTracingCost(servers: { off: string; on: string }, model: string, workload: Workload, seconds: number, rounds = 4): Promise<TracingRow[]> {
  const input = await v2InputOf(servers.off, model);
  const rows: TracingRow[] = [];
  for (const { batch } of TRACING_LOADS) {
    const batches = instanceBatches(workload, batch);
    const senders = { off: restSender(servers.off, model, input, batches, 1), 'on (OTLP)': restSender(servers.on, model, input, batches, 1) };
    const stats = await takeTurns(senders, 1, seconds, rounds, `tracing: batch ${batch}, off and on`);
    for (const tracing of Object.keys(stats) as (keyof typeof stats)[]) rows.push({ tracing, batch, ...stats[tracing] });
  }
  return rows;
}

export function tracingSection(rows: TracingRow[], exports: number): string[] {
  const out = [
    '## What tracing costs: REST v2, one caller, off against on (OTLP)',
    '',
    `Two servers of the same build, taking turns: one with nothing set (no SDK runs), one with OTEL_TRACES_EXPORTER=otlp sending every span to a sink in this process (${exports} exports received). The ratio is on over off.`,
    '',
    '| batch | tracing | requests/s | p50 ms | p99 ms | ratio requests/s | ratio p50 |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const { batch } of TRACING_LOADS) {
    const off = rows.find((r) => r.batch === batch && r.tracing === 'off');
    for (const r of rows.filter((x) => x.batch === batch)) {
      const ratio = r.tracing !== 'off' && off ? [`${(r.requestsPerSecond / off.requestsPerSecond).toFixed(2)}x`, `${(r.p50Ms / off.p50Ms).toFixed(2)}x`] : ['', ''];
      out.push(`| ${batch} | ${r.tracing} | ${r.requestsPerSecond.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${ratio[0]} | ${ratio[1]} |`);
    }
  }
  return out;
}
