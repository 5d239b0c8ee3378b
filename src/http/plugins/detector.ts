import fp from 'fastify-plugin';
import type { DetectorLease } from '../../detector/detector-slot.js';
import type { Detector } from '../../detector/types.js';
import { OodError } from '../../errors.js';
import type { DetectorHost } from '../detector-host.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The detector when the server is ready: loaded, and not shutting down. */
    readyDetector(): Detector | undefined;
    /** Throws NOT_READY, saying why, unless the server is ready. */
    requireReady(): void;
    /** The detector, or a NOT_READY error saying why there is none. */
    requireDetector(): Detector;
    /**
     * The detector held for one request until release(), so a reload during the request can
     * neither switch versions under it nor dispose what it is using; NOT_READY when there is none.
     */
    leaseDetector(): DetectorLease;
  }
}

export interface DetectorPluginOptions {
  host: DetectorHost;
}

/**
 * Readiness and the detector, per request. While the server drains on shutdown it is no longer
 * ready, but it still serves: the detector is released only once every request has finished.
 */
export default fp<DetectorPluginOptions>(
  async (app, { host }) => {
    const notReady = () => {
      if (app.isDraining()) return new OodError('NOT_READY', 'The server is shutting down');
      const failure = host.lastError?.();
      return new OodError('NOT_READY', failure ? `The model failed to load: ${failure}` : undefined);
    };

    app.decorate('readyDetector', () => (app.isDraining() ? undefined : host.detector()));

    app.decorate('requireReady', () => {
      if (!app.readyDetector()) throw notReady();
    });

    app.decorate('requireDetector', () => {
      const detector = host.detector();
      if (detector) return detector;
      throw notReady();
    });

    app.decorate('leaseDetector', () => {
      const lease = host.acquire();
      if (lease) return lease;
      throw notReady();
    });
  },
  { name: 'ood-detector', fastify: '5.x', dependencies: ['ood-drain'] },
);
