import type { FastifyRequest } from 'fastify';
import { OodError } from '../../errors.js';

/** The header of the binary tensor data extension (Triton's): the JSON part's length in bytes. */
export const HEADER_LENGTH = 'inference-header-content-length';

/** The content type a binary request is read as. */
export const BINARY_CONTENT_TYPE = 'application/octet-stream';

/**
 * Triton reads any body with Inference-Header-Content-Length as binary, whatever its Content-Type,
 * and its own Python client sends none: such a body is read as octet-stream here too. For an
 * onRequest hook, which runs before the body is parsed.
 */
export function treatAsBinary(request: FastifyRequest): void {
  if (request.headers[HEADER_LENGTH] !== undefined) request.headers['content-type'] = BINARY_CONTENT_TYPE;
}

const binaryParts = new WeakMap<FastifyRequest, Buffer[]>();

/**
 * Splits a binary-extension body into its JSON header, which becomes the request body for
 * validation as usual, and the inputs' bytes, in input order, sized by each input's
 * `parameters.binary_data_size`. `asRequest` may rewrite the JSON part first (a forwarded
 * response's outputs become the inputs). For a preValidation hook.
 */
export function splitBinaryBody(
  request: FastifyRequest,
  asRequest: (header: unknown) => unknown = (header) => header,
  /** How errors name the tensors' list, once `asRequest` ran: a forwarded response's are its outputs. */
  tensorsField: () => string = () => 'inputs',
): void {
  const raw = request.headers[HEADER_LENGTH];
  const body = request.body;
  if (raw === undefined) {
    if (Buffer.isBuffer(body)) {
      throw new OodError('BAD_REQUEST', `A ${request.headers['content-type']} body needs the Inference-Header-Content-Length header (binary tensor data extension)`);
    }
    request.body = asRequest(body);
    return;
  }
  if (!Buffer.isBuffer(body)) {
    throw new OodError('BAD_REQUEST', `Inference-Header-Content-Length needs a binary body (Content-Type ${BINARY_CONTENT_TYPE})`);
  }
  const length = Number(raw);
  if (!/^\d+$/.test(String(raw)) || length > body.byteLength) {
    throw new OodError('BAD_REQUEST', `Inference-Header-Content-Length is ${JSON.stringify(raw)}; it must be a byte count of at most the body's ${body.byteLength}`);
  }
  let header: unknown;
  try {
    header = JSON.parse(body.subarray(0, length).toString('utf8'));
  } catch (err) {
    throw new OodError('BAD_REQUEST', `The first ${length} bytes of the body are not a JSON inference request: ${(err as Error).message}`);
  }
  header = asRequest(header);
  const parts: Buffer[] = [];
  let offset = length;
  const inputs = (header as { inputs?: unknown } | null)?.inputs;
  if (Array.isArray(inputs)) {
    for (const [i, input] of inputs.entries()) {
      const size = (input as { parameters?: { binary_data_size?: unknown } } | null)?.parameters?.binary_data_size;
      if (size === undefined) continue;
      if (typeof size !== 'number' || !Number.isInteger(size) || size < 0 || offset + size > body.byteLength) {
        throw new OodError('BAD_REQUEST', `${tensorsField()}[${i}].parameters.binary_data_size is ${JSON.stringify(size)}; ${body.byteLength - offset} bytes of binary data are left`);
      }
      parts[i] = body.subarray(offset, offset + size);
      offset += size;
    }
  }
  if (offset !== body.byteLength) {
    throw new OodError('BAD_REQUEST', `${body.byteLength - offset} bytes of binary data follow the inputs' binary_data_size`);
  }
  binaryParts.set(request, parts);
  request.body = header;
}

/** The bytes of input `index` when it came as binary data, else undefined. */
export function binaryInput(request: FastifyRequest, index: number): Buffer | undefined {
  return binaryParts.get(request)?.[index];
}
