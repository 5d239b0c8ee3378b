import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { StatusResponseSchema } from '../schemas.js';

/** Liveness only: answers while the model is still loading, so a slow cold start is not a crash. */
const healthzRoute: FastifyPluginAsyncZod = async (app) => {
  app.get('/healthz', { schema: { tags: ['operations'], summary: 'Liveness', response: { 200: StatusResponseSchema } } }, async () => ({ status: 'ok' }));
};

export default healthzRoute;
