import fp from 'fastify-plugin';
import type { ModelInfo } from '../../detector/types.js';
import { OodError } from '../../errors.js';
import type { ModelRepository } from '../../lifecycle/index.js';

/** Loading and unloading models by name, for the transports that offer it (gRPC's repository methods). */
export interface RepositoryCalls {
  /** Answers once the model serves; NOT_READY while the server shuts down. */
  load(name: string): Promise<ModelInfo>;
  unload(name: string): void;
  /** No loads from now on; those waiting are answered NOT_READY at once (the shutdown's first step). */
  close(): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Undefined unless the server has a model repository (OOD_MODEL_REPOSITORY). */
    repository: RepositoryCalls | undefined;
  }
}

export interface RepositoryPluginOptions {
  repository?: ModelRepository;
}

/**
 * The model repository on the app: each load and unload also starts or ends the model's series
 * on /metrics and its kept flagged inputs. Registered before gRPC, so that on close the loads still building are answered
 * (UNAVAILABLE) before the gRPC drain waits on the calls under way.
 */
export default fp<RepositoryPluginOptions>(
  async (app, { repository }) => {
    if (!repository) {
      app.decorate('repository', undefined);
      return;
    }
    app.decorate('repository', {
      load: async (name) => {
        if (app.isDraining()) throw new OodError('NOT_READY', 'The server is shutting down: no model loads now');
        const info = await repository.load(name);
        app.metrics.addModel(name);
        app.review?.remember(name);
        return info;
      },
      close: () => repository.close(),
      unload: (name) => {
        const info = repository.unload(name);
        app.metrics.removeModel(name, info?.layers ?? []);
        app.review?.forget(name);
        app.log.info({ model: name, version: info?.version }, 'repository unload: the model is not served; its requests under way finish first');
      },
    } satisfies RepositoryCalls);
    app.addHook('preClose', async () => repository.close());
  },
  { name: 'ood-repository', fastify: '5.x', dependencies: ['ood-drain', 'ood-detector', 'ood-metrics', 'ood-scoring'] },
);
