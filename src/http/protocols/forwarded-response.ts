import type { FastifyRequest } from 'fastify';

/**
 * A v2 inference *response* sent on as the next request, as KServe's InferenceGraph does with
 * `data: $response`: the model server's answer `{"model_name", "outputs": [tensors]}` reaches
 * this service as it was. Its output tensors are then the inputs, and those the model does not
 * take (the model server's own other outputs) are left aside rather than refused: the sender
 * forwarded a whole answer, not a request written for this model.
 */

const forwarded = new WeakSet<FastifyRequest>();

const isTensor = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && typeof (value as { datatype?: unknown }).datatype === 'string' && Array.isArray((value as { shape?: unknown }).shape);

/**
 * The body as a request: a forwarded response (no `inputs`, every `outputs` entry a tensor with
 * its datatype and shape) becomes one whose inputs are those tensors; any other body is left as
 * it is. A request's own `outputs` name the outputs wanted and carry no datatype, so the two
 * cannot be confused.
 */
export function asRequest(request: FastifyRequest, body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const { inputs, outputs, id, parameters } = body as Record<string, unknown>;
  if (inputs !== undefined || !Array.isArray(outputs) || outputs.length === 0 || !outputs.every(isTensor)) return body;
  forwarded.add(request);
  // The response's model_name and model_version were the model server's: only its id carries over.
  return { ...(id !== undefined ? { id } : {}), ...(parameters !== undefined ? { parameters } : {}), inputs: outputs };
}

export const isForwardedResponse = (request: FastifyRequest): boolean => forwarded.has(request);

/**
 * Which of a forwarded response's tensors the model takes, by their index in it: those named as
 * its inputs; for a model of one input, the only tensor whatever its name. Every tensor of a
 * request written for the model.
 */
export function takenTensors(request: FastifyRequest, tensors: readonly { name: string }[], inputNames: readonly string[]): number[] {
  const all = tensors.map((_, i) => i);
  if (!forwarded.has(request)) return all;
  const named = all.filter((i) => inputNames.includes(tensors[i].name));
  return named.length === 0 && inputNames.length === 1 && tensors.length === 1 ? all : named;
}
