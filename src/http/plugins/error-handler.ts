import type { FastifyError, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import fp from 'fastify-plugin';
import { ERRORS, isOodError, type ErrorCode } from '../../errors.js';
import type { ErrorResponse, PlainErrorResponse } from '../schemas.js';

/**
 * The one place errors become HTTP answers: our own OodErrors, fastify's client errors (body
 * parsing, limits, media type), schema validation, and anything unexpected, which is logged in
 * full but answered with a generic 500. The body is `{"error": {"code", "message"}}` on the
 * service's own routes, and `{"error": "message"}` on the routes of protocols that define it so
 * (Open Inference Protocol v2, TensorFlow Serving): a route says which with `errorBody`.
 */

declare module 'fastify' {
  interface FastifyContextConfig {
    /** 'plain' for `{"error": "message"}`; the service's own envelope otherwise. */
    errorBody?: 'plain';
  }
}

/** Unmatched paths under these prefixes belong to protocols whose errors are plain. */
const PLAIN_ERROR_PREFIXES = ['/v2/', '/v2?', '/v1/models'];
export const isPlainPath = (url: string) => url === '/v2' || PLAIN_ERROR_PREFIXES.some((prefix) => url.startsWith(prefix));

/**
 * For fastify's `frameworkErrors`: a URL it cannot decode (`/v2/models/%zz/infer`) is refused
 * before any route or hook sees it, so the error handler never does; the body follows the same
 * rule as the not-found handler.
 */
export function sendFrameworkError(err: Partial<FastifyError>, request: FastifyRequest, reply: FastifyReply): void {
  const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  const message = err.code === 'FST_ERR_BAD_URL' ? `The URL ${request.url} is not a valid URL path` : (err.message ?? ERRORS.BAD_REQUEST.message);
  void sendError(reply, { statusCode: status, code: 'BAD_REQUEST', message }, isPlainPath(request.url));
}

interface HttpError {
  statusCode: number;
  code: ErrorCode;
  message: string;
}

/** Fastify's own 4xx errors are meant for clients; their status is all we need to classify them. */
const CODE_BY_CLIENT_STATUS: Partial<Record<number, ErrorCode>> = {
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/** `bodyLimitBytes` lets a 413 say what the limit is. */
function toHttpError(err: unknown, bodyLimitBytes?: number): HttpError {
  if (isOodError(err)) return { statusCode: err.statusCode, code: err.code, message: err.message };

  const fastifyError = err as Partial<FastifyError> | null;
  if (fastifyError?.validation) {
    return {
      statusCode: 400,
      code: 'BAD_REQUEST',
      message: describeValidation(fastifyError.validation, fastifyError.validationContext),
    };
  }

  const status = fastifyError?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = CODE_BY_CLIENT_STATUS[status] ?? 'BAD_REQUEST';
    return { statusCode: ERRORS[code].statusCode, code, message: clientMessage(code, fastifyError, bodyLimitBytes) };
  }

  return { statusCode: 500, code: 'INTERNAL', message: ERRORS.INTERNAL.message };
}

function clientMessage(code: ErrorCode, err: Partial<FastifyError> | null, bodyLimitBytes?: number): string {
  if (code === 'PAYLOAD_TOO_LARGE' && bodyLimitBytes !== undefined) {
    return `The request body is larger than the limit of ${bodyLimitBytes} bytes`;
  }
  // Fastify's wording for these ("Unsupported Media Type") does not say what to do instead.
  if (code === 'UNSUPPORTED_MEDIA_TYPE' || code === 'PAYLOAD_TOO_LARGE') return ERRORS[code].message;
  return err?.message || ERRORS[code].message;
}

const MAX_REPORTED_ISSUES = 3;

function describeValidation(issues: FastifySchemaValidationError[], context: string | undefined): string {
  const parts = issues.slice(0, MAX_REPORTED_ISSUES).map((issue) => {
    const where = formatPath(context ?? 'request', issue.instancePath);
    return `${where}: ${issue.message ?? 'invalid value'}`;
  });
  const more = issues.length - parts.length;
  return parts.join('; ') + (more > 0 ? ` (and ${more} more)` : '');
}

/** `/instances/0/2` -> `body.instances[0][2]`, the way a client would index its own object. */
function formatPath(root: string, instancePath: string): string {
  return instancePath
    .split('/')
    .filter((segment) => segment !== '')
    .reduce((path, segment) => (/^\d+$/.test(segment) ? `${path}[${segment}]` : `${path}.${segment}`), root);
}

function sendError(reply: FastifyReply, error: HttpError, plain: boolean): FastifyReply {
  const body: ErrorResponse | PlainErrorResponse = plain ? { error: error.message } : { error: { code: error.code, message: error.message } };
  return reply.code(error.statusCode).type('application/json; charset=utf-8').send(body);
}

export default fp(
  async (app) => {
    app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
      const error = toHttpError(err, request.routeOptions.bodyLimit);
      // Only the error and the request line are logged: bodies may hold users' data.
      // Only unexpected failures deserve a stack; a 503 while loading is the system working.
      if (error.code === 'INTERNAL') {
        request.log.error({ err, code: error.code }, 'request failed');
      } else if (error.code === 'OVERLOADED') {
        // Under overload thousands of these come a second: a line each would add to the load
        // being shed. ood_requests_shed_total counts them.
        request.log.debug({ code: error.code, reason: error.message }, 'request shed');
      } else if (error.statusCode >= 500) {
        request.log.warn({ code: error.code, reason: error.message }, 'request refused');
      } else {
        request.log.info({ code: error.code, reason: error.message }, 'request rejected');
      }
      return sendError(reply, error, request.routeOptions.config?.errorBody === 'plain');
    });

    app.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?', 1)[0];
      return sendError(reply, { statusCode: 404, code: 'NOT_FOUND', message: `No route ${request.method} ${path}` }, isPlainPath(request.url));
    });
  },
  { name: 'ood-error-handler', fastify: '5.x' },
);
