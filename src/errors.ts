/**
 * One catalog of the errors the service and its CLIs raise. Each code is stable (clients and
 * tests match on it) and carries its HTTP status, so the transport never has to guess.
 */
export const ERRORS = {
  BAD_REQUEST: { statusCode: 400, message: 'The request is malformed' },
  INVALID_INSTANCE: { statusCode: 400, message: 'An instance does not match the model input' },
  BATCH_TOO_LARGE: { statusCode: 400, message: 'Too many instances in one request' },
  UNAUTHORIZED: { statusCode: 401, message: 'Missing or invalid bearer token' },
  ADMIN_DISABLED: { statusCode: 403, message: 'Admin endpoints need bearer tokens (OOD_API_TOKENS or OOD_API_TOKENS_FILE)' },
  NOT_FOUND: { statusCode: 404, message: 'No such route' },
  MODEL_NOT_FOUND: { statusCode: 404, message: 'No such model is served' },
  METHOD_NOT_ALLOWED: { statusCode: 405, message: 'Method not allowed' },
  RELOAD_IN_PROGRESS: { statusCode: 409, message: 'A reload is already running' },
  PAYLOAD_TOO_LARGE: { statusCode: 413, message: 'The request body is too large' },
  MODEL_REFUSED_INPUT: { statusCode: 422, message: 'The model cannot run on this input' },
  UNSUPPORTED_MEDIA_TYPE: { statusCode: 415, message: 'Content-Type must be application/json' },
  NOT_READY: { statusCode: 503, message: 'The model or its indexes are not loaded yet' },
  OVERLOADED: { statusCode: 503, message: 'The server is overloaded, retry later' },
  INTERNAL: { statusCode: 500, message: 'Internal error' },
  NOT_IMPLEMENTED: { statusCode: 501, message: 'This server does not offer that operation' },
  MODEL_LOAD_FAILED: { statusCode: 500, message: 'The model could not be loaded' },
  // Start-up and CLI failures: never sent over HTTP, but kept here so every failure has a code.
  CONFIG_INVALID: { statusCode: 500, message: 'Invalid configuration' },
  MODEL_INVALID: { statusCode: 500, message: 'The model folder is invalid' },
  DATA_SOURCE_MISSING: { statusCode: 500, message: 'A data source is not installed' },
  DATA_INVALID: { statusCode: 500, message: 'A data file is invalid' },
  CACHE_INVALID: { statusCode: 500, message: 'A cache entry is invalid' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class OodError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERRORS[code].message, options);
    this.name = 'OodError';
    this.code = code;
    this.statusCode = ERRORS[code].statusCode;
  }
}

export function isOodError(err: unknown): err is OodError {
  return err instanceof OodError;
}
