import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { OodError } from '../../errors.js';
import { checkVersion } from '../protocols/model-version.js';
import { inputDisplay } from '../review/display.js';
import { REVIEW_HTML, reviewScript } from '../review/page.js';
import { OutliersSchema, ReferenceSchema } from '../review/review-schemas.js';
import { PlainErrorResponseSchema } from '../schemas.js';

const tags = ['review'];
// A browser opens these: they take Basic credentials too (see the auth plugin).
const pageConfig = { requiresAuth: true, basicAuth: true };
const jsonConfig = { ...pageConfig, errorBody: 'plain' as const };
const errors = { 404: PlainErrorResponseSchema, 503: PlainErrorResponseSchema };

/**
 * The review of flagged inputs (OOD_REVIEW_SIZE > 0): the page at /review, and the JSON behind
 * it. With the review off, every route here answers 404 saying how to turn it on.
 */
const reviewRoutes: FastifyPluginAsyncZod = async (app) => {
  const store = () => {
    if (!app.review) throw new OodError('NOT_FOUND', 'The review of flagged inputs is off: start the service with OOD_REVIEW_SIZE=N to keep the last N per model');
    return app.review;
  };

  app.get('/review', { schema: { tags, summary: 'The review page: flagged inputs with their nearest training examples' }, config: pageConfig }, async (_request, reply) => {
    store();
    return reply.type('text/html; charset=utf-8').send(REVIEW_HTML);
  });
  app.get('/review/review.js', { schema: { hide: true }, config: pageConfig }, async (_request, reply) => {
    store();
    return reply.type('text/javascript; charset=utf-8').send(reviewScript());
  });

  app.get(
    '/v1/models/:name/outliers',
    {
      schema: {
        tags,
        summary: 'The last flagged inputs of a model, newest first, a page at a time',
        params: z.object({ name: z.string().min(1) }),
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20), before: z.coerce.number().int().min(1).optional() }),
        response: { 200: OutliersSchema, ...errors },
      },
      config: jsonConfig,
    },
    async (request) => {
      const review = store();
      const { info } = app.requireDetector(request.params.name);
      const { entries, kept } = review.page(info.name, request.query.limit, request.query.before);
      return {
        model: info.name,
        version: info.version,
        capacity: review.capacity,
        kept,
        display: inputDisplay(info),
        entries: entries.map((e) => ({ ...e, input: Array.from(e.input) })),
      };
    },
  );

  app.get(
    '/v1/models/:name/references/:id',
    {
      schema: {
        tags,
        summary: 'One training example the neighbours are searched among',
        params: z.object({ name: z.string().min(1), id: z.coerce.number().int().min(0) }),
        querystring: z.object({ version: z.string().optional() }),
        response: { 200: ReferenceSchema, ...errors },
      },
      config: jsonConfig,
    },
    async (request) => {
      store();
      const detector = app.requireDetector(request.params.name);
      // Ids name rows of the version that found them; after a reload they may be other examples.
      checkVersion(detector.info, request.query.version);
      const example = detector.reference?.(request.params.id);
      if (!example) throw new OodError('NOT_FOUND', `Model ${detector.info.name} has no reference example ${request.params.id}`);
      return {
        id: example.id,
        label: example.label,
        model: detector.info.name,
        version: detector.info.version,
        display: inputDisplay(detector.info),
        values: Array.from(example.values),
        ...(detector.text ? { text: detector.text.decode(example.values) } : {}),
      };
    },
  );
};

export default reviewRoutes;
