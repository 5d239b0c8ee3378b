import { z } from 'zod';
import { ModelInfoSchema, PredictionSchema } from '../detector/types.js';
import { ERRORS, type ErrorCode } from '../errors.js';
import type { B64Instance } from './image-instances.js';

/**
 * The wire shapes of the HTTP API. Prediction and model shapes come from the detector so they are
 * never restated here.
 */

// Only the envelope is checked here: instance contents are checked by decodeInstances
// (instances.ts) in the same pass that copies them into the Float32Array, because a per-number
// zod schema costs about as much as JSON.parse on a full batch.
export const PredictRequestSchema = z.object({
  instances: z
    .array(
      z.custom<unknown[] | B64Instance | Record<string, unknown> | string>((value) => (typeof value === 'object' && value !== null) || typeof value === 'string', {
        error:
          'each instance must be an array of numbers (flat or nested), an object keyed by input name, ' +
          'a string for a text model, or {"b64": "<PNG or JPEG>"} for an image model',
      }),
    )
    .min(1, 'must hold at least one instance'),
  include_neighbors: z.boolean().optional(),
});

export const PredictResponseSchema = z.object({
  predictions: z.array(PredictionSchema),
  model: ModelInfoSchema.pick({ name: true, version: true }),
  significance: ModelInfoSchema.shape.significance,
});

export const StatusResponseSchema = z.object({ status: z.string() });

export const ErrorResponseSchema = z.object({
  error: z.object({
    code: z.enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]]),
    message: z.string(),
  }),
});

/** The error body of the Open Inference Protocol and of TensorFlow Serving. */
export const PlainErrorResponseSchema = z.object({ error: z.string() });

/** Route config for the protocols whose errors are `{"error": "..."}` (v2, TF Serving). */
export const PLAIN_ERRORS = { errorBody: 'plain' as const };
/** The refusals those routes document, each in that plain shape. */
export const PLAIN_ERROR_RESPONSES = { 400: PlainErrorResponseSchema, 404: PlainErrorResponseSchema, 503: PlainErrorResponseSchema };

export type PredictRequest = z.infer<typeof PredictRequestSchema>;
export type PredictResponse = z.infer<typeof PredictResponseSchema>;
export type ErrorResponse = z.infer<typeof ErrorResponseSchema>;
export type PlainErrorResponse = z.infer<typeof PlainErrorResponseSchema>;
