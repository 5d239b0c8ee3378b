import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { StatusResponseSchema } from '../schemas.js';

/** Ready means loaded: the model and every index. Otherwise the error handler answers 503 NOT_READY. */
const readyzRoute: FastifyPluginAsyncZod = async (app) => {
  app.get('/readyz', { schema: { tags: ['operations'], summary: 'Readiness: every model and its indexes loaded', response: { 200: StatusResponseSchema } } }, async () => {
    app.requireReady();
    return { status: 'ready' };
  });
};

export default readyzRoute;
