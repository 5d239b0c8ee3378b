import type { LatencyResult } from './latency.js';
import type { Machine } from './machine.js';
import type { RecallResult } from './recall.js';
import { ms, seconds } from './stats.js';
import { table } from './table.js';
import type { StartTimes } from './server.js';
import type { ThroughputResult } from './throughput.js';
import { ratios, type SideBySideRow } from './side-by-side.js';
import { protocolsSection, type ProtocolRow } from './grpc-vs-rest.js';
import { tracingSection, type TracingRow } from './tracing-cost.js';

/** The side-by-side with the Python anchor, or why it was skipped. */
export type SideBySide = { rows: SideBySideRow[]; anchor: string } | { skipped: string };

export interface Report {
  command: string;
  date: Date;
  totalMs: number;
  machine: Machine;
  cold: StartTimes;
  warm: StartTimes;
  latency: LatencyResult[];
  throughput: ThroughputResult[];
  sideBySide: SideBySide;
  protocols: ProtocolRow[];
  tracing: { rows: TracingRow[]; exports: number };
  recall: RecallResult;
}

export function renderReport(r: Report): string {
  const { machine: m, recall } = r;
  const lines: string[] = [
    '# ood-service benchmark',
    '',
    `\`${r.command}\`, ${r.date.toISOString()}, ${(r.totalMs / 1000).toFixed(0)} s in all.`,
    '',
    '## Machine',
    '',
    ...table(
      ['CPU', 'cores', 'memory', 'OS', 'Node', 'tfjs backend'],
      [[m.cpuModel, m.cpuCount, `${m.memoryGiB.toFixed(1)} GiB`, m.os, m.node, m.serverBackend]],
    ),
    '',
    '## Start-up (spawn until /readyz answers 200)',
    '',
    ...table(
      ['start', 'listening (s)', 'ready (s)'],
      [
        ['cold: empty cache, builds every HNSW graph and the calibration', seconds(r.cold.listeningMs), seconds(r.cold.readyMs)],
        ['warm: same cache dir, reads them back', seconds(r.warm.listeningMs), seconds(r.warm.readyMs)],
      ],
    ),
    '',
    '## POST /predict latency (sequential, one keep-alive loopback connection)',
    '',
    ...table(
      ['batch', 'requests', 'body (KiB)', 'p50 (ms)', 'p99 (ms)', 'mean (ms)', 'max (ms)', 'p50 per instance (ms)'],
      r.latency.map((l) => [
        l.batch,
        l.requests,
        (l.bodyBytes / 1024).toFixed(1),
        ms(l.p50),
        ms(l.p99),
        ms(l.mean),
        ms(l.max),
        ms(l.p50 / l.batch),
      ]),
    ),
    '',
    '## Throughput (autocannon, batch 1, closed loop on 127.0.0.1)',
    '',
    ...table(
      ['connections', 'duration (s)', 'responses', 'requests/s', 'p50 (ms)', 'p99 (ms)', 'errors', 'timeouts', 'non-2xx'],
      r.throughput.map((t) => [
        t.connections,
        t.durationS.toFixed(1),
        t.completed,
        t.requestsPerSecond.toFixed(1),
        ms(t.p50),
        ms(t.p99),
        t.errors,
        t.timeouts,
        t.non2xx,
      ]),
    ),
    '',
    ...sideBySideSection(r.sideBySide),
    ...protocolsSection(r.protocols),
    '',
    ...tracingSection(r.tracing.rows, r.tracing.exports),
    '',
    `## HNSW recall@${recall.k} (model ${recall.model}, M=${recall.params.M}, efConstruction=${recall.params.efConstruction}; ` +
      `in-process, tfjs ${recall.backend})`,
    '',
    `Each layer in each engine and storage. *stored* marks what the service keeps with the default 'auto' storage: f16 where its recall@${recall.k} is at least 0.99, else f32. usearch builds on every core, hnswlib on one; the search is one batched call on one thread.`,
    '',
    ...table(
      ['layer', 'engine', 'storage', 'stored', 'dim', 'efSearch', 'indexed', 'queries', 'build (s)', `recall@${recall.k}`, 'graph (ms/query)', 'exact (ms/query)', 'speed-up'],
      recall.layers.map((l) => [
        l.layer,
        l.engine,
        l.storage,
        l.chosen ? 'yes' : '',
        l.dim,
        l.efSearch,
        l.points,
        l.queries,
        seconds(l.buildMs),
        l.recall.toFixed(4),
        ms(l.hnswMsPerQuery),
        ms(l.exactMsPerQuery),
        `${(l.exactMsPerQuery / l.hnswMsPerQuery).toFixed(1)}x`,
      ]),
    ),
    '',
  ];
  return lines.join('\n');
}

/**
 * The same closed-loop loads against this service and the Python anchor in one run: ratios, not
 * absolute figures, are what carry from one (shared, noisy) machine to the next.
 */
function sideBySideSection(s: SideBySide): string[] {
  const title = '## Side by side with a plain Python Deep-kNN service (same model, data, k and load)';
  if ('skipped' in s) return [title, '', `Skipped: ${s.skipped}.`, ''];
  return [
    title,
    '',
    ...table(
      ['server', 'batch', 'connections', 'requests/s', 'predictions/s', 'p50 (ms)', 'p99 (ms)', 'non-2xx', 'errors'],
      s.rows.map((r) => [r.server, r.batch, r.connections, r.requestsPerSecond.toFixed(1), r.predictionsPerSecond.toFixed(1), ms(r.p50Ms), ms(r.p99Ms), r.non2xx, r.errors]),
    ),
    '',
    ...ratios(s.rows, s.anchor).map(
      (q) => `- ${q.server} at batch ${q.batch}, ${q.connections} connection(s): **${q.ratio.toFixed(2)}x** the anchor's predictions/s, p50 ${q.p50Ratio.toFixed(2)}x the anchor's`,
    ),
    '',
  ];
}
