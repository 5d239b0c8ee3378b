import type { ServerWritableStream } from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import { OodError } from '../../errors.js';

/** The services the health protocol answers for: the server as a whole (""), and the inference service. */
export const HEALTH_SERVICES = ['', 'inference.GRPCInferenceService'];

type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
type Watch = ServerWritableStream<{ service: string }, { status: ServingStatus }>;

/** How often the watches look for a change; the protocol asks for an update whenever the status changes. */
const WATCH_INTERVAL_MS = 1000;

/**
 * `grpc.health.v1.Health`: SERVING when /readyz would say 200 (every model loaded, and no
 * shutdown under way), NOT_SERVING otherwise. That makes it a readiness (and startup) probe; a
 * liveness probe on it would restart a pod that is loading or draining, so liveness stays on
 * HTTP /healthz.
 */
export class HealthService {
  /** Each open watch, with the status it last heard. */
  private readonly watches = new Map<Watch, ServingStatus>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly app: FastifyInstance) {}

  private status(): 'SERVING' | 'NOT_SERVING' {
    return this.app.allReady() ? 'SERVING' : 'NOT_SERVING';
  }

  check(service: string): { status: ServingStatus } {
    if (!HEALTH_SERVICES.includes(service)) throw new OodError('NOT_FOUND', `No service "${service}" here; health is reported for ${HEALTH_SERVICES.map((s) => JSON.stringify(s)).join(' and ')}`);
    return { status: this.status() };
  }

  /**
   * Sends the status now and on every change, until the client leaves or the server drains. An
   * unknown service hears SERVICE_UNKNOWN and stays open, as the protocol asks.
   */
  watch(call: Watch): void {
    const status = HEALTH_SERVICES.includes(call.request.service) ? this.status() : 'SERVICE_UNKNOWN';
    call.write({ status });
    this.watches.set(call, status);
    const stop = () => this.forget(call);
    call.on('cancelled', stop);
    call.on('close', stop);
    this.timer ??= setInterval(() => this.announce(), WATCH_INTERVAL_MS).unref();
  }

  private announce(now: ServingStatus = this.status()): void {
    for (const [watch, heard] of this.watches) {
      if (heard === 'SERVICE_UNKNOWN' || heard === now) continue;
      watch.write({ status: now });
      this.watches.set(watch, now);
    }
  }

  private forget(call: Watch): void {
    this.watches.delete(call);
    if (this.watches.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** At shutdown: every watch hears NOT_SERVING (once) and ends, so none holds the server open. */
  endWatches(): void {
    this.announce('NOT_SERVING');
    for (const watch of [...this.watches.keys()]) {
      this.forget(watch);
      watch.end();
    }
  }
}
