import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { OodError } from '../../errors.js';
import { decodeImageInstances } from '../image-instances.js';
import { toInputBatch } from '../instances.js';
import { PredictRequestSchema, PredictResponseSchema } from '../schemas.js';

export interface PredictRouteOptions {
  maxBatch: number;
}

/** Transport only: check and flatten the batch, hand it to the detector, count what came back. */
const predictRoute: FastifyPluginAsyncZod<PredictRouteOptions> = async (app, { maxBatch }) => {
  app.post(
    '/predict',
    { schema: { body: PredictRequestSchema, response: { 200: PredictResponseSchema } }, config: { requiresAuth: true, shedUnderPressure: true } },
    async (request) => {
      const { instances, include_neighbors: includeNeighbors = false } = request.body;
      if (instances.length > maxBatch) {
        throw new OodError(
          'BATCH_TOO_LARGE',
          `body.instances holds ${instances.length} instances; at most ${maxBatch} are allowed per request`,
        );
      }

      const lease = app.leaseDetector();
      try {
        const { detector } = lease;
        const numeric = await decodeImageInstances(instances, detector.info.preprocessing, detector.info.name);
        const inputs = toInputBatch(numeric, detector.info.input_shape);
        const result = await detector.predict(inputs, instances.length, { includeNeighbors });
        app.metrics.recordPrediction(result);

        // Named from the same detector that scored, so the answer says which version it used.
        const { name, version, significance } = detector.info;
        return { predictions: result.predictions, model: { name, version }, significance };
      } finally {
        lease.release();
      }
    },
  );
};

export default predictRoute;
