import underPressure from '@fastify/under-pressure';
import fp from 'fastify-plugin';
import { OodError } from '../../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Routes that answer 503 OVERLOADED, rather than queue, while the process is under pressure. */
    shedUnderPressure?: boolean;
  }
}

export interface LoadSheddingOptions {
  /** Event-loop delay (ms) past which work is shed; 0 turns the check off. */
  maxEventLoopDelayMs: number;
  /** Heap in use (bytes) past which work is shed; 0 turns the check off. */
  maxHeapUsedBytes: number;
  /** Seconds a client is told to wait, in Retry-After. */
  retryAfterSeconds: number;
  /** How often the process is sampled, in ms. */
  sampleIntervalMs?: number;
}

/**
 * Sheds scoring work with a quick 503 and Retry-After when the event loop lags or the heap
 * grows past a bound, before latency runs away. Only routes that opt in are shed: the probes and
 * /metrics keep answering, so an orchestrator sees a live, busy process rather than a dead one.
 */
export default fp<LoadSheddingOptions>(
  async (app, opts) => {
    await app.register(underPressure, {
      maxEventLoopDelay: opts.maxEventLoopDelayMs,
      maxHeapUsedBytes: opts.maxHeapUsedBytes,
      ...(opts.sampleIntervalMs === undefined ? {} : { sampleInterval: opts.sampleIntervalMs }),
      pressureHandler: (request, reply, type, value) => {
        if (!request.routeOptions.config?.shedUnderPressure) return undefined;
        reply.header('retry-after', String(opts.retryAfterSeconds));
        throw new OodError('OVERLOADED', `The server is overloaded (${type} at ${Math.round(Number(value))}); retry after ${opts.retryAfterSeconds} s`);
      },
    });
  },
  { name: 'ood-load-shedding', fastify: '5.x', dependencies: ['ood-error-handler'] },
);
