import type { FastifyInstance } from 'fastify';
import type { LightMyRequestResponse } from 'fastify';
import assert from 'node:assert/strict';
import { buildApp, type BuildAppOptions } from '../../src/http/app.js';
import { ErrorResponseSchema, type ErrorResponse } from '../../src/http/schemas.js';
import type { DetectorHost } from '../../src/lifecycle/detector-host.js';

export const TEST_MAX_BATCH = 3;
export const TEST_BODY_LIMIT_BYTES = 4096;

export async function buildTestApp(
  host: DetectorHost,
  overrides: Partial<BuildAppOptions> = {},
): Promise<FastifyInstance> {
  return buildApp({ host, maxBatch: TEST_MAX_BATCH, bodyLimitBytes: TEST_BODY_LIMIT_BYTES, ...overrides });
}

/** Asserts the response is our JSON error envelope with this status and code, and returns it. */
export function assertError(res: LightMyRequestResponse, statusCode: number, code: string): ErrorResponse {
  assert.equal(res.statusCode, statusCode, `status for ${code}: ${res.body}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = ErrorResponseSchema.parse(res.json());
  assert.equal(body.error.code, code, res.body);
  return body;
}

/** Asserts a protocol error (Open Inference Protocol, TF Serving): `{"error": "message"}` only. */
export function assertPlainError(res: LightMyRequestResponse, statusCode: number, message?: RegExp): string {
  assert.equal(res.statusCode, statusCode, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json() as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ['error'], res.body);
  assert.equal(typeof body.error, 'string');
  if (message) assert.match(body.error as string, message);
  return body.error as string;
}
