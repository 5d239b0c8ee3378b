import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ModelInfo } from '../../detector/types.js';
import { OodError } from '../../errors.js';
import { decodeInstances } from '../instances.js';
import { checkVersion, modelPaths } from '../protocols/model-version.js';
import { instanceValue, nest, outputSpecs, outputTensors } from '../protocols/output-tensors.js';
import { columnarInstances, TF_DTYPES, TF_INPUT_DTYPES } from '../protocols/tf-serving.js';
import { batchTooLarge } from '../plugins/scoring.js';
import { PLAIN_ERROR_RESPONSES, PLAIN_ERRORS } from '../schemas.js';

/**
 * TensorFlow Serving's REST API: model status, metadata and `:predict`, in the row
 * (`instances`) and columnar (`inputs`) formats, with `{"b64": ...}` images. The answer gives
 * each output by name: the class probabilities and the detector's results.
 */

export const TfPredictRequestSchema = z
  .object({
    signature_name: z.string().optional(),
    instances: z.array(z.unknown()).min(1, 'must hold at least one instance').optional(),
    inputs: z.unknown().optional(),
  })
  .refine((body) => (body.instances === undefined) !== (body.inputs === undefined), {
    message: 'give either "instances" (row format) or "inputs" (columnar format), not both',
  });

const TfPredictResponseSchema = z.union([
  z.object({ predictions: z.array(z.record(z.string(), z.unknown())) }),
  z.object({ outputs: z.record(z.string(), z.unknown()) }),
]);

const StatusSchema = z.object({
  model_version_status: z.array(
    z.object({ version: z.string(), state: z.string(), status: z.object({ error_code: z.string(), error_message: z.string() }) }),
  ),
});

const SIGNATURE = 'serving_default';
const tags = ['TensorFlow Serving'];

const tensorInfo = (name: string, dtype: string, shape: number[]) => ({
  dtype,
  tensor_shape: { dim: shape.map((size) => ({ size: String(size), name: '' })), unknown_rank: false },
  name,
});

function metadata(info: ModelInfo) {
  return {
    model_spec: { name: info.name, signature_name: '', version: info.version },
    metadata: {
      signature_def: {
        signature_def: {
          [SIGNATURE]: {
            inputs: Object.fromEntries(info.inputs.map((i) => [i.name, tensorInfo(i.name, TF_INPUT_DTYPES[i.dtype], [-1, ...i.shape])])),
            outputs: Object.fromEntries(outputSpecs(info).map((o) => [o.name, tensorInfo(o.name, TF_DTYPES[o.datatype], [-1, ...o.shape])])),
            method_name: 'tensorflow/serving/predict',
          },
        },
      },
    },
  };
}

const tfServingRoutes: FastifyPluginAsyncZod = async (app) => {
  for (const { path: base, params, versionOf } of modelPaths('/v1/models')) {

    app.get(base, { schema: { tags, summary: 'Model version status', params, response: { 200: StatusSchema, ...PLAIN_ERROR_RESPONSES } }, config: PLAIN_ERRORS }, async (request) => {
      const info = app.requireDetector(request.params.name).info;
      checkVersion(info, versionOf(request.params));
      return { model_version_status: [{ version: info.version, state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] };
    });

    app.get(`${base}/metadata`, { schema: { tags, summary: 'Model metadata: the serving_default signature', params, response: { 200: z.record(z.string(), z.unknown()), ...PLAIN_ERROR_RESPONSES } }, config: PLAIN_ERRORS }, async (request) => {
      const info = app.requireDetector(request.params.name).info;
      checkVersion(info, versionOf(request.params));
      return metadata(info);
    });

    // find-my-way reads "::" as a literal colon; the pattern keeps the colon out of the last parameter.
    const predictPath = `${base}(^[^/:]+)::predict`;
    app.post(
      predictPath,
      {
        schema: {
          tags,
          summary: 'Predict, in the row (instances) or columnar (inputs) format, with the outlier outputs',
          security: [{ bearer: [] }],
          params,
          body: TfPredictRequestSchema,
          response: { 200: TfPredictResponseSchema, ...PLAIN_ERROR_RESPONSES },
        },
        config: { ...PLAIN_ERRORS, requiresAuth: true, shedUnderPressure: true },
      },
      async (request) => {
        const { instances, inputs, signature_name: signature } = request.body;
        const columnar = instances === undefined;
        const { info, result } = await app.score({
          model: request.params.name,
          decode: async (model, maxRows, text) => {
            checkVersion(model, versionOf(request.params));
            if (signature !== undefined && signature !== SIGNATURE && signature !== '') {
              throw new OodError('BAD_REQUEST', `signature_name "${signature}" is not served; model ${model.name} has "${SIGNATURE}"`);
            }
            const rows = columnar ? columnarInstances(inputs, model) : (instances as unknown[]);
            if (rows.length === 0) throw new OodError('INVALID_INSTANCE', 'inputs holds no instance');
            if (rows.length > maxRows) throw batchTooLarge(rows.length, maxRows, columnar ? 'inputs' : 'instances');
            return { inputs: await decodeInstances(rows, model, 'instances', text), rows: rows.length };
          },
        });
        const tensors = outputTensors(result.predictions, info);
        if (columnar) return { outputs: Object.fromEntries(tensors.map((t) => [t.name, nest(t.data, t.shape)])) };
        return {
          predictions: result.predictions.map((_, row) => Object.fromEntries(tensors.map((t) => [t.name, instanceValue(t, row)]))),
        };
      },
    );
  }
};

export default tfServingRoutes;
