import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DriftStatusSchema } from '../../drift/drift-monitor.js';
import { NAME_PATTERN } from '../../model/manifest.js';

const tags = ['ood-service'];

const ResetRequestSchema = z
  .object({ model: z.string().regex(NAME_PATTERN, `must match ${NAME_PATTERN}`).optional() })
  .strict()
  // No body at all (fastify passes null) resets the default model's statistic.
  .nullish();

/** The drift alarm's state per model, and its reset (docs/observability.md). */
const driftRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/v1/models/:name/drift',
    {
      schema: {
        tags,
        summary: 'The drift test statistic over the model\'s combined p-values since load or reset, its threshold, and whether it has alarmed ("default" names the default model)',
        params: z.object({ name: z.string().min(1) }),
        response: { 200: DriftStatusSchema },
      },
    },
    async (request) => app.drift.status(request.params.name),
  );

  app.post(
    '/admin/drift/reset',
    {
      schema: {
        tags: ['operations'],
        summary: 'Start a model\'s drift statistic afresh, clearing its alarm (once the shift is dealt with)',
        security: [{ bearer: [] }],
        body: ResetRequestSchema,
        response: { 200: z.object({ drift: DriftStatusSchema }) },
      },
      config: { requiresAuth: true, admin: true },
    },
    async (request) => {
      const before = app.drift.status(request.body?.model);
      const drift = app.drift.reset(request.body?.model);
      request.log.info({ model: drift.model, statistic: before.statistic, alarm: before.alarm, predictions: before.predictions }, 'drift statistic reset over HTTP');
      return { drift };
    },
  );
};

export default driftRoutes;
