import http from 'node:http';
import { httpRequest } from './http.js';
import { percentile, progress } from './stats.js';
import type { Workload } from './workload.js';

/**
 * Side-by-side loads with one load generator: the same closed loop of C callers, each sending its
 * next request when its last answer is read, against each target in turn, in short rounds
 * (A B A B ...), so a noisy neighbour on a shared machine hits every target alike.
 */
export interface Sender {
  send(i: number): Promise<void>;
  close(): void;
  /** Mean request size on the wire, before framing and headers. */
  bytes: number;
}

export interface TurnStats {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** A model's (single) input as v2 metadata gives it, per instance. */
export type V2InputSpec = { name: string; shape: number[] };

export async function v2InputOf(baseUrl: string, model: string): Promise<V2InputSpec> {
  const meta = JSON.parse((await httpRequest(`${baseUrl}/v2/models/${model}`)).body) as { inputs: V2InputSpec[] };
  return { name: meta.inputs[0].name, shape: meta.inputs[0].shape.slice(1) };
}

/** The workload's instances in batches, as many as a run cycles through. */
export function instanceBatches(workload: Workload, batch: number): number[][][] {
  return workload.bodies(batch, batch === 1 ? 200 : 20).map((b) => (JSON.parse(b) as { instances: number[][] }).instances);
}

/** REST v2 inference with JSON bodies, over keep-alive connections. */
export function restSender(baseUrl: string, model: string, input: V2InputSpec, batches: number[][][], callers: number): Sender {
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

/**
 * The senders take turns, `rounds` rounds of seconds/rounds each, after an untimed second each
 * that warms their connections and the JIT; every sender is closed at the end.
 */
export async function takeTurns<K extends string>(senders: Record<K, Sender>, callers: number, seconds: number, rounds: number, label: string): Promise<Record<K, TurnStats>> {
  const names = Object.keys(senders) as K[];
  const samples = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>;
  try {
    for (const name of names) await closedLoop(senders[name], callers, 1);
    progress(`${label}: ${rounds} rounds of ${(seconds / rounds).toFixed(1)} s each, taking turns`);
    for (let round = 0; round < rounds; round++) {
      for (const name of names) samples[name].push(...(await closedLoop(senders[name], callers, seconds / rounds)));
    }
  } finally {
    for (const name of names) senders[name].close();
  }
  const stats = (s: number[]): TurnStats => ({ requestsPerSecond: s.length / seconds, p50Ms: percentile(s, 50), p99Ms: percentile(s, 99) });
  return Object.fromEntries(names.map((name) => [name, stats(samples[name])])) as Record<K, TurnStats>;
}
