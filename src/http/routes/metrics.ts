import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';

export interface MetricsRouteOptions {
  /** The registry to expose; the app's own (the metrics plugin's) when absent. */
  registry?: Registry;
}

const metricsRoute: FastifyPluginAsync<MetricsRouteOptions> = async (app, opts) => {
  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics' } }, async (_request, reply) => {
    const registry = opts.registry ?? app.metrics.registry;
    return reply.type(registry.contentType).send(await registry.metrics());
  });
};

export default metricsRoute;
