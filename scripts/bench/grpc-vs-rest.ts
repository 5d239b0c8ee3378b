import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { services } from '../../src/http/grpc/proto.js';
import { httpRequest } from './http.js';
import { percentile, progress } from './stats.js';
import type { Workload } from './workload.js';

/**
 * gRPC with raw contents against REST v2 JSON, on one server, with one load generator: the same
 * closed loop of C callers, each sending its next request when its last answer is read, over one
 * keep-alive connection per caller (REST) or one HTTP/2 channel (gRPC). The protocols take turns
 * in short rounds (A B A B ...), so a noisy neighbour on a shared machine hits both alike.
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

export interface Sender {
  send(i: number): Promise<void>;
  close(): void;
  bytes: number;
}

export function restSender(baseUrl: string, model: string, input: { name: string; shape: number[] }, batches: number[][][], callers: number): Sender {
  const agent = new http.Agent({ keepAlive: true, maxSockets: callers });
  const url = `${baseUrl}/v2/models/${model}/infer`;
  const bodies = batches.map((rows) => JSON.stringify({ inputs: [{ name: input.name, shape: [rows.length, ...input.shape], datatype: 'FP32', data: rows.flat() }] }));
  return {
    bytes: bodies.reduce((s, b) => s + Buffer.byteLength(b), 0) / bodies.length,
    async send(i) {
      const res = await httpRequest(url, { method: 'POST', body: bodies[i % bodies.length], agent });
      if (res.status !== 200) throw new Error(`REST v2 infer answered ${res.status}: ${res.body.slice(0, 200)}`);
    },
    close: () => agent.destroy(),
  };
}

function grpcSender(port: number, model: string, input: { name: string; shape: number[] }, batches: number[][][]): Sender {
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

/** C callers in a closed loop for `seconds`: each answer's latency. */
export async function closedLoop(sender: Sender, callers: number, seconds: number): Promise<number[]> {
  const until = performance.now() + seconds * 1000;
  const samples: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < until) {
        const started = performance.now();
        await sender.send(next++);
        samples.push(performance.now() - started);
      }
    }),
  );
  return samples;
}

export async function measureProtocols(
  server: { baseUrl: string; grpcPort: number },
  model: string,
  workload: Workload,
  seconds: number,
  rounds = 4,
): Promise<ProtocolRow[]> {
  const meta = JSON.parse((await httpRequest(`${server.baseUrl}/v2/models/${model}`)).body) as { inputs: { name: string; shape: number[] }[] };
  const input = { name: meta.inputs[0].name, shape: meta.inputs[0].shape.slice(1) };
  const rows: ProtocolRow[] = [];
  for (const load of PROTOCOL_LOADS) {
    const batches = workload.bodies(load.batch, load.batch === 1 ? 200 : 20).map((b) => (JSON.parse(b) as { instances: number[][] }).instances);
    const senders = { 'REST v2 JSON': restSender(server.baseUrl, model, input, batches, load.callers), 'gRPC raw': grpcSender(server.grpcPort, model, input, batches) } as const;
    const samples: Record<keyof typeof senders, number[]> = { 'REST v2 JSON': [], 'gRPC raw': [] };
    try {
      // Untimed: warms both connections and the JIT on each path.
      for (const sender of Object.values(senders)) await closedLoop(sender, load.callers, 1);
      progress(`protocols: batch ${load.batch}, ${load.callers} caller(s), ${rounds} rounds of ${seconds / rounds} s each`);
      for (let round = 0; round < rounds; round++) {
        for (const protocol of Object.keys(senders) as (keyof typeof senders)[]) samples[protocol].push(...(await closedLoop(senders[protocol], load.callers, seconds / rounds)));
      }
    } finally {
      for (const sender of Object.values(senders)) sender.close();
    }
    for (const protocol of Object.keys(senders) as (keyof typeof senders)[]) {
      const s = samples[protocol];
      rows.push({ protocol, batch: load.batch, callers: load.callers, requestsPerSecond: s.length / seconds, p50Ms: percentile(s, 50), p99Ms: percentile(s, 99), requestBytes: senders[protocol].bytes });
    }
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
