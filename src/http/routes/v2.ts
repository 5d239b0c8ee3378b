import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BINARY_CONTENT_TYPE, binaryInput, splitBinaryBody, treatAsBinary } from '../protocols/binary-tensors.js';
import { checkVersion, modelPaths } from '../protocols/model-version.js';
import { checkSelectedOutputs, outputTensors } from '../protocols/output-tensors.js';
import { ModelMetadataSchema, TensorMetadataSchema, v2Metadata as metadata } from '../protocols/v2-metadata.js';
import { asRequest, isForwardedResponse, takenTensors } from '../protocols/forwarded-response.js';
import { decodeV2Inputs } from '../protocols/v2-tensors.js';
import { PLAIN_ERROR_RESPONSES, PLAIN_ERRORS, PlainErrorResponseSchema } from '../schemas.js';

/**
 * The Open Inference Protocol v2 over REST (KServe, Triton, MLServer): health, metadata and
 * inference, so a client of those servers reaches this one by changing the host. Every answer
 * carries the class probabilities and, as tensors of their own, the detector's results.
 */

const Parameters = z.record(z.string(), z.unknown());

export const V2InferRequestSchema = z.object({
  id: z.string().optional(),
  parameters: Parameters.optional(),
  inputs: z
    .array(
      z.object({
        name: z.string(),
        // A forwarded response may hold a scalar output ([]); decoding refuses it only if the model takes it.
        shape: z.array(z.number().int().min(0)).max(9),
        datatype: z.string(),
        parameters: Parameters.optional(),
        // Checked value by value while it is copied into the model's input (v2-tensors.ts).
        data: z.unknown().optional(),
      }),
    )
    .min(1, 'must hold the input tensors'),
  outputs: z.array(z.object({ name: z.string(), parameters: Parameters.optional() })).optional(),
});

export const V2InferResponseSchema = z.object({
  model_name: z.string(),
  model_version: z.string(),
  id: z.string().optional(),
  outputs: z.array(
    TensorMetadataSchema.extend({ data: z.array(z.union([z.number(), z.boolean(), z.string()])) }),
  ),
});

const tags = ['Open Inference Protocol v2'];

export interface V2RoutesOptions {
  serverVersion: string;
}

const INFER_DESCRIPTION =
  'One tensor per model input (a model with one input takes one tensor whatever its name), each holding the batch, ' +
  'its first dimension counting the instances. JSON data may be flat or nested. ' +
  'With the binary tensor data extension the body is application/octet-stream: the JSON request (its length in the ' +
  'Inference-Header-Content-Length header) followed by the tensor in little-endian, sized by parameters.binary_data_size. ' +
  'A model server\'s v2 response sent on as it is (no inputs; outputs that are tensors, as a KServe InferenceGraph step ' +
  'forwards $response) is read as the request: its outputs the model takes are the inputs, the rest are left aside.';

/** The server's own routes: health and metadata. */
const serverRoutes: FastifyPluginAsyncZod<V2RoutesOptions> = async (app, { serverVersion }) => {
  app.get('/v2/health/live', { schema: { tags, summary: 'Server liveness', response: { 200: z.object({ live: z.boolean() }) } }, config: PLAIN_ERRORS }, async () => ({ live: true }));

  app.get(
    '/v2/health/ready',
    { schema: { tags, summary: 'Server readiness: every model loaded', response: { 200: z.object({ ready: z.boolean() }), 503: z.object({ ready: z.boolean() }) } }, config: PLAIN_ERRORS },
    async (_request, reply) => {
      const ready = app.allReady();
      return reply.code(ready ? 200 : 503).send({ ready });
    },
  );

  app.get(
    '/v2',
    { schema: { tags, summary: 'Server metadata', response: { 200: z.object({ name: z.string(), version: z.string(), extensions: z.array(z.string()) }) } }, config: PLAIN_ERRORS },
    // Triton's names for the extensions, so a client can tell what it may call.
    async () => ({ name: 'ood-service', version: serverVersion, extensions: ['binary_tensor_data', ...(app.repository ? ['model_repository'] : [])] }),
  );
};

/** Each model's routes, with and without a version: metadata, readiness, inference. */
const modelRoutes: FastifyPluginAsyncZod = async (app) => {
  for (const { path: base, params, versionOf } of modelPaths('/v2/models')) {

    app.get(base, { schema: { tags, summary: 'Model metadata: every input and every output with its type and shape', params, response: { 200: ModelMetadataSchema, ...PLAIN_ERROR_RESPONSES } }, config: PLAIN_ERRORS }, async (request) => {
      const info = app.requireDetector(request.params.name).info;
      checkVersion(info, versionOf(request.params));
      return metadata(info);
    });

    app.get(
      `${base}/ready`,
      { schema: { tags, summary: 'Model readiness', params, response: { 200: z.object({ name: z.string(), ready: z.boolean() }), 503: z.object({ name: z.string(), ready: z.boolean() }), 404: PlainErrorResponseSchema } }, config: PLAIN_ERRORS },
      async (request, reply) => {
        const detector = app.readyDetector(request.params.name);
        if (detector) checkVersion(detector.info, versionOf(request.params));
        return reply.code(detector ? 200 : 503).send({ name: request.params.name, ready: detector !== undefined });
      },
    );

    app.post(
      `${base}/infer`,
      {
        schema: {
          tags,
          summary: 'Inference with the outlier outputs',
          description: INFER_DESCRIPTION,
          security: [{ bearer: [] }],
          params,
          body: V2InferRequestSchema,
          response: { 200: V2InferResponseSchema, ...PLAIN_ERROR_RESPONSES },
        },
        config: { ...PLAIN_ERRORS, requiresAuth: true, shedUnderPressure: true },
        onRequest: async (request) => treatAsBinary(request),
        preValidation: async (request) =>
          splitBinaryBody(
            request,
            (body) => asRequest(request, body),
            () => (isForwardedResponse(request) ? 'outputs' : 'inputs'),
          ),
      },
      async (request) => {
        const { inputs, outputs, id } = request.body;
        const selected = outputs?.map((o) => o.name);
        const { info, result } = await app.score({
          model: request.params.name,
          decode: (model, maxRows, text) => {
            checkVersion(model, versionOf(request.params));
            checkSelectedOutputs(model, selected);
            const taken = takenTensors(request, inputs, model.inputs.map((i) => i.name));
            const field = isForwardedResponse(request) ? 'outputs' : 'inputs';
            return decodeV2Inputs(taken.map((i) => inputs[i]), model, maxRows, (index) => binaryInput(request, taken[index]), text, (t) => `${field}[${taken[t]}]`);
          },
        });
        return {
          model_name: info.name,
          model_version: info.version,
          ...(id !== undefined ? { id } : {}),
          outputs: outputTensors(result.predictions, info, selected),
        };
      },
    );
  }
};

const v2Routes: FastifyPluginAsyncZod<V2RoutesOptions> = async (app, options) => {
  // Binary tensor data arrives as one buffer: its JSON part is split off before validation.
  app.addContentTypeParser(BINARY_CONTENT_TYPE, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  await app.register(serverRoutes, options);
  await app.register(modelRoutes);
};

export default v2Routes;
