import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * A client of the Open Inference Protocol over gRPC that shares nothing with the server's code:
 * it reads the .proto files itself, with proto-loader's own defaults (camelCase fields, int64 as
 * strings), so only the wire format is common. Promises over grpc-js's callbacks.
 */
const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));

export type Call = (request: object, metadata?: grpc.Metadata) => Promise<Record<string, unknown>>;

export interface OipClient {
  call(method: string, request?: object, metadata?: grpc.Metadata): Promise<Record<string, unknown>>;
  health(service?: string): Promise<string>;
  /** The first messages of a health Watch, and the stream, to end it. */
  watch(service: string): grpc.ClientReadableStream<{ status: string }>;
  close(): void;
}

/** `host`: where to call; this host's loopback unless another of its addresses is given. */
export function oipClient(port: number, host = '127.0.0.1'): OipClient {
  const definition = protoLoader.loadSync(['inference/grpc_predict_v2.proto', 'grpc/health/v1/health.proto'], { includeDirs: [PROTO_DIR], enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    inference: { GRPCInferenceService: grpc.ServiceClientConstructor };
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  const address = `${host}:${port}`;
  const inference = new pkg.inference.GRPCInferenceService(address, grpc.credentials.createInsecure());
  const health = new pkg.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  const unary = (client: grpc.Client, method: string, request: object, metadata = new grpc.Metadata()) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      (client as unknown as Record<string, (r: object, m: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: Record<string, unknown>) => void) => void>)[method](
        request,
        metadata,
        (err, res) => (err ? reject(err) : resolve(res)),
      );
    });
  return {
    call: (method, request = {}, metadata) => unary(inference, method, request, metadata),
    health: async (service = '') => (await unary(health, 'Check', { service })).status as string,
    watch: (service) => (health as unknown as { Watch(r: object): grpc.ClientReadableStream<{ status: string }> }).Watch({ service }),
    close: () => {
      inference.close();
      health.close();
    },
  };
}

/** Metadata with a bearer token. */
export function bearer(token: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

/** Rejects with a gRPC status: its code's name and details, for assert.rejects. */
export function grpcStatus(code: keyof typeof grpc.status, details?: RegExp) {
  return (err: unknown) => {
    const e = err as grpc.ServiceError;
    if (e.code !== grpc.status[code]) throw new Error(`expected ${code}, got ${grpc.status[e.code] ?? e.code}: ${e.details}`);
    if (details && !details.test(e.details)) throw new Error(`details ${JSON.stringify(e.details)} do not match ${details}`);
    return true;
  };
}

/** Floats as raw little-endian FP32 bytes. */
export function fp32Bytes(values: readonly number[]): Buffer {
  const out = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => out.writeFloatLE(v, i * 4));
  return out;
}
