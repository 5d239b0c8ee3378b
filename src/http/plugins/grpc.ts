import fp from 'fastify-plugin';
import { GrpcServer, type GrpcServerOptions } from '../grpc/grpc-server.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The gRPC listener; undefined when gRPC is off (OOD_GRPC_PORT=0). server.ts makes it listen. */
    grpc: GrpcServer | undefined;
  }
}

/**
 * gRPC beside REST, on the same detectors, tokens, shedding, metrics and drain. Registered after
 * the drain plugin, so on close its preClose hook runs once the drain delay is over (health has
 * said NOT_SERVING meanwhile) and waits for the calls under way, before the HTTP listener closes
 * and the models retire.
 */
export default fp<GrpcServerOptions>(
  async (app, options) => {
    const server = new GrpcServer(app, options);
    app.decorate('grpc', server);
    app.addHook('preClose', async () => server.drain());
    app.addHook('onClose', async () => server.forceClose());
  },
  { name: 'ood-grpc', fastify: '5.x', dependencies: ['ood-drain', 'ood-auth', 'ood-metrics', 'ood-scoring'] },
);
