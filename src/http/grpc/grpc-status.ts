import { Metadata, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { OodError, type ErrorCode } from '../../errors.js';

/** The gRPC code for each HTTP status our errors carry, as the Open Inference Protocol's servers map them. */
const BY_HTTP_STATUS: Record<number, status> = {
  400: status.INVALID_ARGUMENT,
  401: status.UNAUTHENTICATED,
  403: status.PERMISSION_DENIED,
  404: status.NOT_FOUND,
  409: status.FAILED_PRECONDITION,
  413: status.RESOURCE_EXHAUSTED,
  415: status.INVALID_ARGUMENT,
  422: status.INVALID_ARGUMENT,
  501: status.UNIMPLEMENTED,
  503: status.UNAVAILABLE,
};

/**
 * Where a code's HTTP status says too little. A model that fails to load is the server's
 * failure, as Triton answers it; its message names what to fix in the bundle. A code named here
 * is an expected answer, logged (if at all) where it arose, never as an unexpected fault.
 */
const BY_ERROR_CODE: Partial<Record<ErrorCode, status>> = {
  MODEL_LOAD_FAILED: status.INTERNAL,
};

/**
 * An error as a gRPC status: the message as REST would give it, naming the field, and the
 * error's code in the `ood-error-code` trailer so a client can tell OVERLOADED from NOT_READY.
 * Anything that is not an OodError is an internal error, and its message stays in the log.
 */
export function grpcError(err: unknown): ServiceError & { internal: boolean } {
  const metadata = new Metadata();
  if (err instanceof OodError) {
    metadata.set('ood-error-code', err.code);
    const named = BY_ERROR_CODE[err.code];
    const code = named ?? BY_HTTP_STATUS[err.statusCode] ?? status.INTERNAL;
    return Object.assign(new Error(err.message), { code, details: err.message, metadata, internal: named === undefined && code === status.INTERNAL });
  }
  metadata.set('ood-error-code', 'INTERNAL');
  return Object.assign(new Error('Internal error'), { code: status.INTERNAL, details: 'Internal error', metadata, internal: true });
}
