import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Registry } from 'prom-client';
import closeConnectionsPlugin from './plugins/close-connections.js';
import errorHandlerPlugin from './plugins/error-handler.js';
import metricsRoute from './routes/metrics.js';

/**
 * /metrics alone, for a port of its own (OOD_METRICS_PORT): Prometheus scrapes it on an internal
 * network while the API port faces clients, and scrapes never queue behind predictions' auth.
 */
export async function buildMetricsApp(
  registry: Registry,
  logger: FastifyServerOptions['logger'] | boolean = false,
): Promise<FastifyInstance> {
  const app = Fastify({ logger });
  await app.register(closeConnectionsPlugin);
  await app.register(errorHandlerPlugin);
  await app.register(metricsRoute, { registry });
  return app;
}
