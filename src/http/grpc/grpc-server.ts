import * as grpc from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import { grpcError } from './grpc-status.js';
import { HealthService } from './health-service.js';
import { AUTHORIZED_METHODS, inferenceHandlers, REPOSITORY_METHODS, SHED_METHODS, type UnaryCall } from './inference-service.js';
import { isLoopbackPeer } from '../peer.js';
import { services } from './proto.js';
import { grpcServerSpan } from '../tracing/spans.js';

const INFERENCE_SERVICE = 'inference.GRPCInferenceService';

export interface GrpcServerOptions {
  /** The largest request message accepted, as REST's body limit. */
  maxMessageBytes: number;
  serverVersion: string;
  /** Each call gets a SERVER span, continuing the trace in its metadata. */
  traced?: boolean;
}

type Handler = (call: UnaryCall<never>) => unknown;

/** A load or unload is checked against its caller: a token, unless it comes from this host. */
function checkCaller(app: FastifyInstance, method: string, authorization: string | undefined, peer: string): void {
  if (REPOSITORY_METHODS.has(method)) app.checkRepositoryCaller(authorization, isLoopbackPeer(peer));
  else if (AUTHORIZED_METHODS.has(method)) app.checkBearer(authorization);
}

/**
 * The gRPC listener beside the REST one, on the same app: `inference.GRPCInferenceService` and
 * `grpc.health.v1.Health`. Each unary call is checked as REST checks its routes (a token for the
 * methods that score; load shedding for ModelInfer), timed into
 * ood_grpc_request_duration_seconds, and answered with a gRPC status when it fails.
 */
export class GrpcServer {
  private readonly server: grpc.Server;
  readonly health: HealthService;
  private port: number | undefined;
  private readonly traced: boolean;

  constructor(
    private readonly app: FastifyInstance,
    options: GrpcServerOptions,
  ) {
    this.traced = options.traced ?? false;
    this.server = new grpc.Server({ 'grpc.max_receive_message_length': options.maxMessageBytes, 'grpc.max_send_message_length': -1 });
    this.health = new HealthService(app);
    const { inference, health } = services();
    const handlers = inferenceHandlers(app, options.serverVersion) as Record<string, Handler>;
    this.server.addService(inference, Object.fromEntries(Object.entries(handlers).map(([method, handler]) => [method, this.unary(INFERENCE_SERVICE, method, handler)])));
    this.server.addService(health, {
      Check: this.unary('grpc.health.v1.Health', 'Check', (({ request }: UnaryCall<{ service: string }>) => this.health.check(request.service)) as Handler),
      Watch: (call: grpc.ServerWritableStream<{ service: string }, never>) => this.health.watch(call),
    });
  }

  async listen(port: number, host: string): Promise<number> {
    // IPv6 literals go in brackets, as in any URI authority.
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    this.port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
    });
    return this.port;
  }

  /**
   * Stops taking calls and waits for those under way to finish, as the HTTP drain does; a
   * health Watch is told NOT_SERVING and ended first, since it would otherwise never finish.
   */
  async drain(): Promise<void> {
    this.health.endWatches();
    if (this.port === undefined) return;
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    this.port = undefined;
  }

  /** Ends every call at once: for a close that may not wait. */
  forceClose(): void {
    this.health.endWatches();
    this.server.forceShutdown();
    this.port = undefined;
  }

  private unary(service: string, method: string, handler: Handler): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) => {
      const started = performance.now();
      const finish = (code: grpc.status) => this.app.metrics.recordGrpcCall(method, grpc.status[code], (performance.now() - started) / 1000);
      const authorization = call.metadata.get('authorization')[0];
      const work = async () => {
        checkCaller(this.app, method, typeof authorization === 'string' ? authorization : undefined, call.getPeer());
        if (SHED_METHODS.has(method)) this.app.shedIfOverloaded();
        return handler({ request: call.request as never });
      };
      // Health checks are probes, many a minute: they are not traced.
      (this.traced && method !== 'Check' ? grpcServerSpan(service, method, call.metadata.getMap(), work, (err) => grpcError(err).code) : work())
        .then(
          (response) => {
            finish(grpc.status.OK);
            callback(null, response);
          },
          (err: unknown) => {
            const error = grpcError(err);
            if (error.internal) this.app.log.error({ err, method }, 'gRPC call failed');
            finish(error.code);
            callback(error);
          },
        );
    };
  }
}
