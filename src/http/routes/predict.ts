import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { decodeInstances } from '../instances.js';
import { batchTooLarge } from '../plugins/scoring.js';
import { PredictRequestSchema, PredictResponseSchema } from '../schemas.js';

/** The service's own route, on the default model: transport only, the scoring path does the rest. */
const predictRoute: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/predict',
    { schema: { tags: ['ood-service'], summary: 'Score instances on the default model', security: [{ bearer: [] }], body: PredictRequestSchema, response: { 200: PredictResponseSchema } }, config: { requiresAuth: true, shedUnderPressure: true } },
    async (request) => {
      const { instances, include_neighbors: includeNeighbors = false } = request.body;
      const { info, result } = await app.score({
        includeNeighbors,
        decode: async (model, maxRows, text) => {
          if (instances.length > maxRows) throw batchTooLarge(instances.length, maxRows, 'body.instances');
          return { inputs: await decodeInstances(instances, model, 'instances', text), rows: instances.length };
        },
      });
      // Named from the same detector that scored, so the answer says which version it used.
      return { predictions: result.predictions, model: { name: info.name, version: info.version }, significance: info.significance };
    },
  );
};

export default predictRoute;
