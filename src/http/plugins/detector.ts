import fp from 'fastify-plugin';
import type { DetectorLease } from '../../detector/detector-slot.js';
import type { Detector } from '../../detector/types.js';
import { OodError } from '../../errors.js';
import type { DetectorHost } from '../detector-host.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The detector, or undefined while loading, after a failed load, or once shutting down. */
    readyDetector(): Detector | undefined;
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

export default fp<DetectorPluginOptions>(
  async (app, { host }) => {
    // Stop claiming readiness as soon as shutdown starts, so load balancers drain us, and answer
    // late requests with our JSON 503 rather than fastify's own body (see return503OnClosing).
    let closing = false;
    app.addHook('preClose', async () => {
      closing = true;
    });

    const notReady = () => {
      if (closing) return new OodError('NOT_READY', 'The server is shutting down');
      const failure = host.lastError?.();
      return new OodError('NOT_READY', failure ? `The model failed to load: ${failure}` : undefined);
    };

    app.decorate('readyDetector', () => (closing ? undefined : host.detector()));

    app.decorate('requireDetector', () => {
      const detector = closing ? undefined : host.detector();
      if (detector) return detector;
      throw notReady();
    });

    app.decorate('leaseDetector', () => {
      const lease = closing ? undefined : host.acquire();
      if (lease) return lease;
      throw notReady();
    });
  },
  { name: 'ood-detector', fastify: '5.x' },
);
