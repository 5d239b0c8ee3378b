import fp from 'fastify-plugin';
import type { Detector } from '../../detector/types.js';
import { OodError } from '../../errors.js';
import type { DetectorHost } from '../detector-host.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The detector, or undefined while loading, after a failed load, or once shutting down. */
    readyDetector(): Detector | undefined;
    /** The detector, or a NOT_READY error saying why there is none. */
    requireDetector(): Detector;
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

    app.decorate('readyDetector', () => (closing ? undefined : host.detector()));

    app.decorate('requireDetector', () => {
      if (closing) throw new OodError('NOT_READY', 'The server is shutting down');
      const detector = host.detector();
      if (detector) return detector;
      const failure = host.lastError?.();
      throw new OodError('NOT_READY', failure ? `The model failed to load: ${failure}` : undefined);
    });
  },
  { name: 'ood-detector', fastify: '5.x' },
);
