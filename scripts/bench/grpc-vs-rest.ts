import * as grpc from '@grpc/grpc-js';
import { services } from '../../src/http/grpc/proto.js';
import { instanceBatches, restSender, takeTurns, v2InputOf, type Sender, type V2InputSpec } from './take-turns.js';
import type { Workload } from './workload.js';

/**
 * gRPC with raw contents against REST v2 JSON, on one server, with one load generator
 * (take-turns.ts): one keep-alive connection per caller (REST) or one HTTP/2 channel (gRPC).
 */
export interface ProtocolRow {
  protocol: 'REST v2 JSON' | 'gRPC raw';
  batch: number;
  callers: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Mean request size on the wire, before HTTP/2 framing or HTTP headers. */
  requestBytes: number;
}

export const PROTOCOL_LOADS = [
  { batch: 1, callers: 1 },
  { batch: 1, callers: 8 },
  { batch: 32, callers: 1 },
  { batch: 32, callers: 4 },
] as const;

function grpcSender(port: number, model: string, input: V2InputSpec, batches: number[][][]): Sender {
  const Client = grpc.makeGenericClientConstructor(services().inference, 'GRPCInferenceService');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 }) as unknown as Record<string, (r: object, cb: (err: Error | null) => void) => void> & grpc.Client;
  const requests = batches.map((rows) => {
    const raw = Buffer.alloc(rows.length * rows[0].length * 4);
    rows.flat().forEach((v, k) => raw.writeFloatLE(v, k * 4));
    return { model_name: model, inputs: [{ name: input.name, datatype: 'FP32', shape: [rows.length, ...input.shape] }], raw_input_contents: [raw] };
  });
  return {
    bytes: requests.reduce((s, r) => s + r.raw_input_contents[0].length, 0) / requests.length,
    send: (i) => new Promise((resolve, reject) => client.ModelInfer(requests[i % requests.length], (err) => (err ? reject(err) : resolve()))),
    close: () => client.close(),
  };
}

export async function measureProtocols(
  server: { baseUrl: string; grpcPort: number },
  model: string,
  workload: Workload,
  seconds: number,
  rounds = 4,
): Promise<ProtocolRow[]> {
  const input = await v2InputOf(server.baseUrl, model);
  const rows: ProtocolRow[] = [];
  for (const load of PROTOCOL_LOADS) {
    const batches = instanceBatches(workload, load.batch);
    const senders = { 'REST v2 JSON': restSender(server.baseUrl, model, input, batches, load.callers), 'gRPC raw': grpcSender(server.grpcPort, model, input, batches) };
    const bytes = { 'REST v2 JSON': senders['REST v2 JSON'].bytes, 'gRPC raw': senders['gRPC raw'].bytes };
    const stats = await takeTurns(senders, load.callers, seconds, rounds, `protocols: batch ${load.batch}, ${load.callers} caller(s)`);
    for (const protocol of Object.keys(stats) as (keyof typeof stats)[]) rows.push({ protocol, batch: load.batch, callers: load.callers, ...stats[protocol], requestBytes: bytes[protocol] });
  }
  return rows;
}

export function protocolsSection(rows: ProtocolRow[]): string[] {
  const out = [
    '## gRPC (raw contents) against REST v2 (JSON), same server, same load generator',
    '',
    'A closed loop of callers in this process, the protocols taking turns in short rounds. The ratio is gRPC over REST.',
    '',
    '| batch | callers | protocol | request bytes | requests/s | p50 ms | p99 ms | ratio requests/s | ratio p50 |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const load of PROTOCOL_LOADS) {
    const rest = rows.find((r) => r.protocol === 'REST v2 JSON' && r.batch === load.batch && r.callers === load.callers);
    for (const r of rows.filter((x) => x.batch === load.batch && x.callers === load.callers)) {
      const ratio = r.protocol === 'gRPC raw' && rest ? [`${(r.requestsPerSecond / rest.requestsPerSecond).toFixed(2)}x`, `${(r.p50Ms / rest.p50Ms).toFixed(2)}x`] : ['', ''];
      out.push(`| ${r.batch} | ${r.callers} | ${r.protocol} | ${Math.round(r.requestBytes).toLocaleString('en-US')} | ${r.requestsPerSecond.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${ratio[0]} | ${ratio[1]} |`);
    }
  }
  return out;
}
