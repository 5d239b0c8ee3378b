import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { repositoryIndex, repositoryTarget } from '../protocols/repository-calls.js';
import { PLAIN_ERROR_RESPONSES, PLAIN_ERRORS } from '../schemas.js';

const tags = ['Open Inference Protocol v2'];
const Parameters = z.record(z.string(), z.unknown());
const params = z.object({ name: z.string().min(1) });
// A POST with no body at all is a call with no parameters (fastify gives null).
const ModelCallSchema = z.object({ parameters: Parameters.optional() }).nullish();

const IndexEntrySchema = z.object({ name: z.string(), version: z.string(), state: z.enum(['READY', 'LOADING', 'UNAVAILABLE']), reason: z.string() });

/**
 * The Open Inference Protocol's model repository extension over REST, as Triton and KServe serve
 * it: the same index, loads and unloads as gRPC's Repository* methods (docs/grpc.md, "A model
 * repository"). Without a repository (OOD_MODEL_REPOSITORY), a load or unload is 501.
 */
const repositoryRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/v2/repository/index',
    {
      schema: {
        tags,
        summary: 'The served models, each READY, LOADING or UNAVAILABLE (with why)',
        body: z.object({ repository_name: z.string().optional(), ready: z.boolean().optional() }).nullish(),
        response: { 200: z.array(IndexEntrySchema), ...PLAIN_ERROR_RESPONSES },
      },
      config: PLAIN_ERRORS,
    },
    async (request) => repositoryIndex(app, request.body?.ready ?? false),
  );

  const config = { ...PLAIN_ERRORS, repository: true };
  const security = [{ bearer: [] }];
  app.post(
    '/v2/repository/models/:name/load',
    {
      schema: { tags, summary: 'Load a model from the repository; answers once it serves', security, params, body: ModelCallSchema, response: { 200: z.object({}), ...PLAIN_ERROR_RESPONSES } },
      config,
    },
    async (request) => {
      await repositoryTarget(app, request.body?.parameters, 'A load').load(request.params.name);
      return {};
    },
  );
  app.post(
    '/v2/repository/models/:name/unload',
    {
      schema: { tags, summary: 'Stop serving a model; its requests under way finish', security, params, body: ModelCallSchema, response: { 200: z.object({}), ...PLAIN_ERROR_RESPONSES } },
      config,
    },
    async (request) => {
      repositoryTarget(app, request.body?.parameters, 'An unload').unload(request.params.name);
      return {};
    },
  );
};

export default repositoryRoutes;
