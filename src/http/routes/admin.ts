import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ReloadStatusSchema, type Reloader } from '../../detector/reloader.js';
import { OodError } from '../../errors.js';
import { NAME_PATTERN } from '../../model/manifest.js';

export interface AdminRoutesOptions {
  reloader: Reloader;
  /** What a reload without a body loads: the model serving now. */
  defaultModel: () => string;
}

const ReloadRequestSchema = z
  .object({ model: z.string().regex(NAME_PATTERN, `must match ${NAME_PATTERN}`).optional() })
  .strict()
  // No body at all (fastify passes null) reloads the model the server started with.
  .nullish();

const ReloadAcceptedSchema = z.object({ reload: ReloadStatusSchema });

/**
 * Admin endpoints. They always need a bearer token (see the auth plugin): with no tokens
 * configured they answer 403, and SIGHUP is the way to reload.
 */
const adminRoutes: FastifyPluginAsyncZod<AdminRoutesOptions> = async (app, { reloader, defaultModel }) => {
  const config = { requiresAuth: true, admin: true };

  app.post(
    '/admin/reload',
    { schema: { body: ReloadRequestSchema, response: { 202: ReloadAcceptedSchema } }, config },
    async (request, reply) => {
      if (app.isDraining()) throw new OodError('NOT_READY', 'The server is shutting down; it starts no reload');
      const model = request.body?.model ?? defaultModel();
      if (!reloader.start(model, 'http')) {
        throw new OodError('RELOAD_IN_PROGRESS', `A reload of "${reloader.status().model}" is already running; GET /admin/reload shows its progress`);
      }
      request.log.info({ model }, 'reload requested over HTTP');
      return reply.code(202).send({ reload: reloader.status() });
    },
  );

  app.get('/admin/reload', { schema: { response: { 200: ReloadStatusSchema } }, config }, async () => reloader.status());
};

export default adminRoutes;
