import fp from 'fastify-plugin';
import { OodError } from '../../errors.js';
import { PressureMonitor } from '../pressure-monitor.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Routes that answer 503 OVERLOADED, rather than queue, while the process is under pressure. */
    shedUnderPressure?: boolean;
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * For a transport that is not a fastify route (gRPC): throws OVERLOADED, counted as shed,
     * while the process is under pressure; nothing when shedding is off.
     */
    shedIfOverloaded(): void;
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

export type ShedReason = 'event_loop_delay' | 'heap_used';

/**
 * Sheds scoring work with a quick 503 and Retry-After when the event loop lags or the heap
 * grows past a bound, before latency runs away. Only routes that opt in are shed: the probes and
 * /metrics keep answering, so an orchestrator sees a live, busy process rather than a dead one.
 * It runs as the first onRequest hook after draining, before authentication and body parsing,
 * so a shed request costs next to nothing.
 */
export default fp<LoadSheddingOptions>(
  async (app, opts) => {
    const intervalMs = opts.sampleIntervalMs ?? 25;
    // Half of the delay bound: a burst past the bound sheds for about that long after it ends.
    const monitor = new PressureMonitor({ intervalMs, halfLifeMs: Math.max(intervalMs, opts.maxEventLoopDelayMs / 2) });
    app.addHook('onClose', async () => monitor.stop());

    const pressure = (): { reason: ShedReason; value: string } | undefined => {
      const delay = monitor.eventLoopDelayMs();
      if (opts.maxEventLoopDelayMs > 0 && delay > opts.maxEventLoopDelayMs) {
        return { reason: 'event_loop_delay', value: `${Math.round(delay)} ms, bound ${opts.maxEventLoopDelayMs} ms` };
      }
      const heap = monitor.heapUsedBytes();
      if (opts.maxHeapUsedBytes > 0 && heap > opts.maxHeapUsedBytes) {
        return { reason: 'heap_used', value: `${heap} bytes, bound ${opts.maxHeapUsedBytes}` };
      }
      return undefined;
    };

    /** The 503 for the pressure there is, counted; undefined when there is none. */
    const shed = (): OodError | undefined => {
      const over = pressure();
      if (!over) return undefined;
      app.metrics.recordShed(over.reason);
      return new OodError('OVERLOADED', `The server is overloaded (${over.reason.replaceAll('_', ' ')} at ${over.value}); retry after ${opts.retryAfterSeconds} s`);
    };
    app.decorate('shedIfOverloaded', () => {
      const error = shed();
      if (error) throw error;
    });

    app.addHook('onRequest', async (request, reply) => {
      if (!request.routeOptions.config?.shedUnderPressure) return;
      const error = shed();
      if (!error) return;
      reply.header('retry-after', String(opts.retryAfterSeconds));
      throw error;
    });
  },
  { name: 'ood-load-shedding', fastify: '5.x', dependencies: ['ood-error-handler'] },
);
