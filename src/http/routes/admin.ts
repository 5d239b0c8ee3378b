import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ReloadStatusSchema } from '../../lifecycle/index.js';
import { OodError } from '../../errors.js';
import { NAME_PATTERN } from '../../model/manifest.js';
import type { ReloadControl } from '../../lifecycle/index.js';

export interface AdminRoutesOptions {
  reloads: ReloadControl;
}

const ModelName = z.string().regex(NAME_PATTERN, `must match ${NAME_PATTERN}`);

const ReloadRequestSchema = z
  .object({ model: ModelName.optional() })
  .strict()
  // No body at all (fastify passes null) reloads the default model.
  .nullish();

const ReloadAcceptedSchema = z.object({ reload: ReloadStatusSchema });

const notServed = (model: string | undefined, reloads: ReloadControl) =>
  new OodError('MODEL_NOT_FOUND', `No model "${model}" is served here; the served models are ${reloads.names().join(', ')}`);

/**
 * Admin endpoints. They always need a bearer token (see the auth plugin): with no tokens
 * configured they answer 403, and SIGHUP is the way to reload.
 */
const adminRoutes: FastifyPluginAsyncZod<AdminRoutesOptions> = async (app, { reloads }) => {
  const config = { requiresAuth: true, admin: true };

  app.post(
    '/admin/reload',
    { schema: { tags: ['operations'], summary: 'Reload a model in the background', security: [{ bearer: [] }], body: ReloadRequestSchema, response: { 202: ReloadAcceptedSchema } }, config },
    async (request, reply) => {
      if (app.isDraining()) throw new OodError('NOT_READY', 'The server is shutting down; it starts no reload');
      const model = request.body?.model;
      const start = reloads.start(model, 'http');
      if (!start) throw notServed(model, reloads);
      if (!start.started) {
        throw new OodError('RELOAD_IN_PROGRESS', `A reload of "${start.status.model}" is already running; GET /admin/reload shows its progress`);
      }
      request.log.info({ model: start.status.model }, 'reload requested over HTTP');
      return reply.code(202).send({ reload: start.status });
    },
  );

  app.get(
    '/admin/reload',
    { schema: { tags: ['operations'], summary: 'The progress of a model\'s reload', security: [{ bearer: [] }], querystring: z.object({ model: ModelName.optional() }), response: { 200: ReloadStatusSchema } }, config },
    async (request) => {
      const status = reloads.status(request.query.model);
      if (!status) throw notServed(request.query.model, reloads);
      return status;
    },
  );
};

export default adminRoutes;
