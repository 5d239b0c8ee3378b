import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { repositoryIndex, repositoryTarget } from '../protocols/repository-calls.js';
import { PLAIN_ERROR_RESPONSES, PLAIN_ERRORS, PlainErrorResponseSchema } from '../schemas.js';

const tags = ['Open Inference Protocol v2'];
const Parameters = z.record(z.string(), z.unknown()).nullish();
const params = z.object({ name: z.string().min(1) });
// A POST with no body at all is a call with no parameters (fastify gives null).
const ModelCallSchema = z.object({ parameters: Parameters }).nullish();
const IndexEntrySchema = z.object({ name: z.string(), version: z.string(), state: z.enum(['READY', 'LOADING', 'UNAVAILABLE']), reason: z.string() });
// Refused without a token (401) or without tokens (403); a bundle that fails (500); no repository (501).
const CALL_ERRORS = { ...PLAIN_ERROR_RESPONSES, 401: PlainErrorResponseSchema, 403: PlainErrorResponseSchema, 500: PlainErrorResponseSchema, 501: PlainErrorResponseSchema };

/**
 * The Open Inference Protocol's model repository extension over REST, as Triton and KServe serve
 * it: the same index, loads and unloads as gRPC's Repository* methods (docs/grpc.md, "A model
 * repository"). Without a repository (OOD_MODEL_REPOSITORY), a load or unload is 501.
 */
const repositoryRoutes: FastifyPluginAsyncZod = async (app) => {
  // Triton's Python client posts its JSON with no Content-Type, and curl -d sends a form's: here,
  // in these routes only (a parser belongs to its plugin's context), any body is read as JSON.
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body).trim();
    try {
      done(null, text === '' ? null : JSON.parse(text));
    } catch {
      done(Object.assign(new Error('the body is not JSON'), { statusCode: 400 }), undefined);
    }
  });

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
  // A token; or, under OOD_REPOSITORY_TRUST_LOOPBACK, none from 127.0.0.1 or ::1.
  const security: Record<string, string[]>[] = [{ bearer: [] }, {}];
  app.post(
    '/v2/repository/models/:name/load',
    {
      schema: { tags, summary: 'Load a model from the repository; answers once it serves', security, params, body: ModelCallSchema, response: { 200: z.object({}), ...CALL_ERRORS } },
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
      schema: { tags, summary: 'Stop serving a model; its requests under way finish', security, params, body: ModelCallSchema, response: { 200: z.object({}), ...CALL_ERRORS } },
      config,
    },
    async (request) => {
      repositoryTarget(app, request.body?.parameters, 'An unload').unload(request.params.name);
      return {};
    },
  );
};

export default repositoryRoutes;
