import http from 'node:http';
import { httpRequest } from './http.js';
import { mean, percentile, progress } from './stats.js';
import type { Workload } from './workload.js';

export interface LatencyResult {
  batch: number;
  requests: number;
  /** Mean request body size in bytes. */
  bodyBytes: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

/**
 * Sequential POST /predict over one keep-alive loopback connection: each request is sent when
 * the previous response has been read, so the figures are service time plus loopback HTTP and
 * JSON, with no queueing. A few untimed requests warm the JIT and the connection first.
 */
export async function measureLatency(
  baseUrl: string,
  workload: Workload,
  opts: { batch: number; requests: number; warmup: number },
): Promise<LatencyResult> {
  const distinct = Math.min(opts.requests, Math.ceil(workload.digits / opts.batch));
  const bodies = workload.bodies(opts.batch, distinct);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const url = `${baseUrl}/predict`;
  const post = async (body: string): Promise<void> => {
    const res = await httpRequest(url, { method: 'POST', body, agent });
    if (res.status !== 200) throw new Error(`POST /predict answered ${res.status}: ${res.body.slice(0, 300)}`);
  };
  try {
    const first = await httpRequest(url, { method: 'POST', body: bodies[0], agent });
    const parsed = JSON.parse(first.body) as { predictions?: unknown[] };
    if (first.status !== 200 || parsed.predictions?.length !== opts.batch) {
      throw new Error(`unexpected /predict answer (${first.status}): ${first.body.slice(0, 300)}`);
    }
    for (let i = 1; i < opts.warmup; i++) await post(bodies[i % bodies.length]);
    progress(`latency: ${opts.requests} sequential requests of batch ${opts.batch}`);
    const samples: number[] = [];
    for (let i = 0; i < opts.requests; i++) {
      const started = performance.now();
      await post(bodies[i % bodies.length]);
      samples.push(performance.now() - started);
    }
    return {
      batch: opts.batch,
      requests: samples.length,
      bodyBytes: mean(bodies.map((b) => Buffer.byteLength(b))),
      p50: percentile(samples, 50),
      p99: percentile(samples, 99),
      mean: mean(samples),
      max: Math.max(...samples),
    };
  } finally {
    agent.destroy();
  }
}
