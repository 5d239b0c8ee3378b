import fp from 'fastify-plugin';
import type { DetectorLease } from '../../lifecycle/index.js';
import type { Detector } from '../../detector/types.js';
import { OodError } from '../../errors.js';
import type { DetectorHost } from '../../lifecycle/index.js';

export const DEFAULT_ALIAS = 'default';

declare module 'fastify' {
  interface FastifyInstance {
    /** The served models' names, the default first. */
    servedModels(): string[];
    /** The detector when the server is ready for it: loaded, and not shutting down. */
    readyDetector(model?: string): Detector | undefined;
    /** Whether the server is ready for every model it serves (so never while shutting down). */
    allReady(): boolean;
    /** Why the model's load failed, when it did and nothing serves it. */
    loadFailure(model: string): string | undefined;
    /** Throws NOT_READY, saying why, unless the server is ready for every model (or this one). */
    requireReady(model?: string): void;
    /** The detector, or a NOT_READY error saying why there is none. */
    requireDetector(model?: string): Detector;
    /**
     * The detector held for one request until release(), so a reload during the request can
     * neither switch versions under it nor dispose what it is using; NOT_READY when there is none.
     */
    leaseDetector(model?: string): DetectorLease;
  }
}

export interface DetectorPluginOptions {
  host: DetectorHost;
}

/**
 * Readiness and the detectors, per request. While the server drains on shutdown it is no longer
 * ready, but it still serves: a detector is released only once every request has finished.
 * Every lookup by name checks the name first, so an unknown model is a 404 whatever the state.
 */
export default fp<DetectorPluginOptions>(
  async (app, { host }) => {
    const served = (model: string | undefined) => {
      // A repository's server may serve nothing yet: a route for the default model is then a 404.
      if (model === undefined && host.names().length === 0) throw new OodError('MODEL_NOT_FOUND', 'No model is served here yet: a model repository loads each by name');
      if (model === undefined || host.names().includes(model)) return model;
      // TF Serving clients and our own older ones ask for "default": the default model, unless
      // a model of that name is served.
      if (model === DEFAULT_ALIAS) return undefined;
      throw new OodError('MODEL_NOT_FOUND', `No model "${model}" is served here; the served models are ${host.names().join(', ')}`);
    };
    const notReady = (model: string | undefined) => {
      if (app.isDraining()) return new OodError('NOT_READY', 'The server is shutting down');
      const failure = host.lastError?.(model);
      const name = model ?? host.names()[0];
      return new OodError('NOT_READY', failure ? `The model ${name} failed to load: ${failure}` : `The model ${name} or its indexes are not loaded yet`);
    };

    app.decorate('servedModels', () => host.names());

    app.decorate('readyDetector', (model?: string) => (app.isDraining() ? undefined : host.detector(served(model))));

    // Asked of the draining state too, since a server with no model has no detector to be denied.
    app.decorate('allReady', () => !app.isDraining() && host.names().every((name) => app.readyDetector(name) !== undefined));

    app.decorate('loadFailure', (model: string) => host.lastError?.(model));

    app.decorate('requireReady', (model?: string) => {
      if (app.isDraining()) throw notReady(model);
      for (const name of model === undefined ? host.names() : [served(model) as string]) {
        if (!app.readyDetector(name)) throw notReady(name);
      }
    });

    app.decorate('requireDetector', (model?: string) => {
      const name = served(model);
      const detector = host.detector(name);
      if (detector) return detector;
      throw notReady(name);
    });

    app.decorate('leaseDetector', (model?: string) => {
      const name = served(model);
      const lease = host.acquire(name);
      if (lease) return lease;
      throw notReady(name);
    });
  },
  { name: 'ood-detector', fastify: '5.x', dependencies: ['ood-drain'] },
);
