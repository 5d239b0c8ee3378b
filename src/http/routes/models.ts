import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ModelInfoSchema } from '../../detector/types.js';

const ModelParamsSchema = z.object({ name: z.string().min(1) });

/** The service's own view of its models: everything the detector says about itself. */
const modelsRoute: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/models',
    { schema: { tags: ['ood-service'], summary: 'The served models, the default first', response: { 200: z.object({ default: z.string(), models: z.array(z.string()) }) } } },
    async () => ({ default: app.servedModels()[0], models: app.servedModels() }),
  );
  // "default" names the default model.
  app.get('/models/:name', { schema: { tags: ['ood-service'], summary: 'One model: labels, layers, k, significance, backend ("default" names the default model)', params: ModelParamsSchema, response: { 200: ModelInfoSchema } } }, async (request) => {
    return app.requireDetector(request.params.name).info;
  });
};

export default modelsRoute;
