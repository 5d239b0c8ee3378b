import type { FastifyInstance } from 'fastify';
import { OodError } from '../../errors.js';

/** One model in the Open Inference Protocol's repository index, as REST and gRPC both answer it. */
export interface RepositoryIndexEntry {
  name: string;
  version: string;
  state: 'READY' | 'LOADING' | 'UNAVAILABLE';
  reason: string;
}

/**
 * The served models and where each stands. A repository's failed loads are unlisted (their
 * callers were told why): UNAVAILABLE is a model named at start that failed, or any while the
 * server shuts down.
 */
export function repositoryIndex(app: FastifyInstance, readyOnly: boolean): RepositoryIndexEntry[] {
  return app
    .servedModels()
    .map((name): RepositoryIndexEntry => {
      const detector = app.readyDetector(name);
      if (detector) return { name, version: detector.info.version, state: 'READY', reason: '' };
      const failure = app.loadFailure(name);
      if (failure !== undefined) return { name, version: '', state: 'UNAVAILABLE', reason: failure };
      if (app.isDraining()) return { name, version: '', state: 'UNAVAILABLE', reason: 'the server is shutting down' };
      return { name, version: '', state: 'LOADING', reason: '' };
    })
    .filter((entry) => !readyOnly || entry.state === 'READY');
}

/**
 * Parameters a call may carry and that change nothing here. Triton's clients send
 * `unload_dependents` with every unload; a model here has no dependents to unload with it.
 */
const WITHOUT_EFFECT = new Set(['unload_dependents']);

/**
 * The repository a load or unload goes to. Triton's other parameters (a config to override, files
 * to write) have no meaning here, so they are refused rather than ignored; the repository name is
 * free, as there is one repository.
 */
export function repositoryTarget(app: FastifyInstance, parameters: Record<string, unknown> | null | undefined, call: string) {
  if (!app.repository) throw new OodError('NOT_IMPLEMENTED', `${call} needs a model repository: this server serves the models named at start (set OOD_MODEL_REPOSITORY)`);
  const given = Object.keys(parameters ?? {}).filter((name) => !WITHOUT_EFFECT.has(name));
  if (given.length > 0) throw new OodError('BAD_REQUEST', `parameters are not taken here (got ${given.join(', ')}): a bundle is loaded as it is`);
  return app.repository;
}
