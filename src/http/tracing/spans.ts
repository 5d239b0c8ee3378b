import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type TextMapGetter } from '@opentelemetry/api';
import { epochMs, type WorkPhase } from '../../detector/work-phases.js';

/**
 * The service's own spans, through the OpenTelemetry API only: without an SDK (OTEL_* unset)
 * the API is a no-op, and every helper here first asks whether the active span records, so a
 * request pays those checks and nothing else here (the detector's phase timestamps, a handful
 * per request, are taken either way).
 */
export const tracer = trace.getTracer('ood-service');

/** The active span, when it records (tracing is on and this request is sampled). */
function recording(): Span | undefined {
  const span = trace.getActiveSpan();
  return span?.isRecording() ? span : undefined;
}

/** Runs `work` in a child span of the active one, when there is one that records. */
export async function inSpan<T>(name: string, work: (span: Span | undefined) => T | Promise<T>, attributes?: Attributes): Promise<T> {
  if (!recording()) return work(undefined);
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

const PHASE_NAMES: Record<WorkPhase['name'], string> = { embed: 'embed', search: 'search', signals: 'signals', score: 'score' };

/**
 * The detector's work phases as children of `parent`, at the times they ran. The phases are on
 * the monotonic clock (performance.timeOrigin + now, the same in every thread); the SDK anchors
 * spans on the wall clock, and the two drift apart over a long uptime, so the phases are moved
 * onto the wall clock as it reads now.
 */
export function phaseSpans(parent: Span | undefined, phases: readonly WorkPhase[] | undefined, batchRows: number | undefined): void {
  if (!parent || !phases) return;
  const ctx = trace.setSpan(context.active(), parent);
  const toWallClock = Date.now() - epochMs();
  for (const phase of phases) {
    const name = phase.layer ? `${PHASE_NAMES[phase.name]} ${phase.layer}` : PHASE_NAMES[phase.name];
    const attributes: Attributes = { 'ood.rows': phase.rows, ...(phase.layer ? { 'ood.layer': phase.layer } : {}), ...(batchRows ? { 'ood.batch_rows': batchRows } : {}) };
    tracer.startSpan(name, { startTime: phase.startMs + toWallClock, attributes }, ctx).end(phase.endMs + toWallClock);
  }
}

/** gRPC metadata as a carrier: its keys are lower-case already, and a value may be a Buffer. */
const metadataGetter: TextMapGetter<Record<string, unknown>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key.toLowerCase()];
    return typeof value === 'string' ? value : undefined;
  },
};

/** The gRPC codes that are the server's fault, which the semantic conventions mark as errors on a server span. */
const SERVER_FAULTS = new Set([2, 4, 12, 13, 14, 15]); // UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS

/**
 * A SERVER span for one gRPC call, continuing the trace its metadata carries (W3C
 * `traceparent`), with `work` run inside it. `codeOf` gives the status code a failure answers
 * with, for `rpc.grpc.status_code`.
 */
export function grpcServerSpan<T>(service: string, method: string, metadata: Record<string, unknown>, work: () => Promise<T>, codeOf: (err: unknown) => number): Promise<T> {
  const parent = propagation.extract(context.active(), metadata, metadataGetter);
  const attributes = { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method };
  return tracer.startActiveSpan(`${service}/${method}`, { kind: SpanKind.SERVER, attributes }, parent, async (span) => {
    try {
      const result = await work();
      span.setAttribute('rpc.grpc.status_code', 0);
      return result;
    } catch (err) {
      const code = codeOf(err);
      span.setAttribute('rpc.grpc.status_code', code);
      if (SERVER_FAULTS.has(code)) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      }
      throw err;
    } finally {
      span.end();
    }
  });
}
