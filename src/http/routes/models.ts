import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ModelInfoSchema } from '../../detector/types.js';

const modelsRoute: FastifyPluginAsyncZod = async (app) => {
  app.get('/v1/models/default', { schema: { response: { 200: ModelInfoSchema } } }, async () => {
    return app.requireDetector().info;
  });
};

export default modelsRoute;
