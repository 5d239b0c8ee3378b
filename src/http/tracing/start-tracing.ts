import { FastifyOtelInstrumentation } from '@fastify/otel';
import { context, propagation, trace } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import type { FastifyPluginCallback } from 'fastify';
import { OodError } from '../../errors.js';

/** The standard variables that turn tracing on; everything else about it (endpoint, service name, sampler) the SDK reads itself. */
export const TRACES_EXPORTER = 'OTEL_TRACES_EXPORTER';
/** What the SDK can export to (zipkin too: its exporter ships with the SDK). */
export const TRACE_EXPORTERS = ['otlp', 'console', 'zipkin', 'none'];

export interface Tracing {
  /** Registered first on the app, so every route gets its server span. */
  fastifyPlugin: FastifyPluginCallback;
  /** Sends the spans still buffered, and stops. */
  shutdown(): Promise<void>;
}

/**
 * Whether to trace: only when OTEL_TRACES_EXPORTER names an exporter, and OTEL_SDK_DISABLED is not
 * true. The SDK alone would default to OTLP when the variable is unset; the service stays off
 * instead, so that with nothing set no SDK runs and the API stays a no-op.
 */
export function tracingWanted(env: Record<string, string | undefined>): boolean {
  const value = env[TRACES_EXPORTER]?.trim();
  if (!value || env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = value.split(',').map((e) => e.trim());
  const unknown = exporters.filter((e) => !TRACE_EXPORTERS.includes(e));
  if (unknown.length > 0) {
    throw new OodError('CONFIG_INVALID', `Invalid configuration: ${TRACES_EXPORTER}=${JSON.stringify(value)}: ${unknown.join(', ')} is not one of ${TRACE_EXPORTERS.join(', ')}`);
  }
  return exporters.some((e) => e !== 'none');
}

/**
 * OpenTelemetry's Node SDK, configured by the standard OTEL_* variables (exporter, endpoint,
 * service name, sampler, propagators), with @fastify/otel for the HTTP server spans; gRPC
 * server spans and the scoring path's spans are the service's own (spans.ts). Tests pass their
 * own span processor (an in-memory exporter).
 */
export function startTracing(options: { spanProcessors?: SpanProcessor[]; env?: Record<string, string | undefined> } = {}): Tracing {
  const env = options.env ?? process.env;
  // A span per request and one for its handler; a span for each of the app's dozen hooks would
  // bury the scoring path's spans.
  const fastifyOtel = new FastifyOtelInstrumentation({ registerOnInitialization: false, instrumentHooks: false });
  const sdk = new NodeSDK({
    instrumentations: [fastifyOtel],
    // The SDK's own default names the node binary; OTEL_SERVICE_NAME still wins when set.
    ...(env.OTEL_SERVICE_NAME ? {} : { serviceName: 'ood-service' }),
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
  });
  sdk.start();
  return {
    fastifyPlugin: fastifyOtel.plugin() as unknown as FastifyPluginCallback,
    async shutdown() {
      await sdk.shutdown();
      // A later start in the same process (tests) must find the globals free.
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
