import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.js';
import type { Detector } from '../../src/detector/types.js';
import { startTracing, TRACING_SHUTDOWN_MS, tracingWanted, type Tracing } from '../../src/http/tracing/start-tracing.js';
import { ServerProcess } from '../../scripts/bench/server.js';
import { waitFor } from '../support/async.js';
import { isOodError } from '../fixtures/assertions.js';
import { FakeHost } from './fake-detector.js';
import { oipClient } from './grpc-client.js';
import { buildTestApp } from './helpers.js';
import { mnistFixture, type MnistFixture } from './mnist-fixture.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`;

/** The spans of one trace as a tree: each span's children by name. */
function childrenOf(spans: readonly ReadableSpan[], parent: ReadableSpan): ReadableSpan[] {
  return spans.filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);
}

function descendants(spans: readonly ReadableSpan[], root: ReadableSpan): ReadableSpan[] {
  const out: ReadableSpan[] = [];
  for (const child of childrenOf(spans, root)) out.push(child, ...descendants(spans, child));
  return out;
}

describe('OpenTelemetry spans, on the mnist model', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let mnist: MnistFixture;
  let detector: Detector;
  let app: FastifyInstance;
  let rows: number[][];
  let layers: string[];

  before(async () => {
    tracing = await startTracing({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    mnist = await mnistFixture({ keepReferences: true });
    ({ detector, rows } = mnist);
    layers = detector.info.layers;
    // The tracing is the app's own: its close shuts the SDK down.
    app = await buildTestApp(new FakeHost(detector), { bodyLimitBytes: 1_000_000, reviewSize: 5, tracing, grpc: { maxMessageBytes: 1_000_000 } });
  });
  after(async () => {
    await app?.close();
    await mnist?.dispose();
  });

  /** The spans of the inference under `server`: the scoring span and its children's names. */
  const inferenceUnder = (server: ReadableSpan) => {
    const spans = exporter.getFinishedSpans();
    const inference = descendants(spans, server).find((s) => s.name === 'ood.inference');
    assert.ok(inference, `an ood.inference span under ${server.name}`);
    return { inference, children: childrenOf(spans, inference).map((s) => s.name) };
  };

  it('gives a REST request a server span that continues the caller\'s trace, with decode, embed, search per layer, score and review under it', async () => {
    exporter.reset();
    const res = await app.inject({ method: 'POST', url: '/predict', headers: { traceparent: TRACEPARENT }, payload: { instances: rows } });
    assert.equal(res.statusCode, 200, res.body);
    const spans = exporter.getFinishedSpans();
    const server = spans.find((s) => s.name === 'request');
    assert.ok(server, `a request span among ${spans.map((s) => s.name).join(', ')}`);
    assert.equal(server.spanContext().traceId, TRACE_ID, 'the trace continues');
    assert.equal(server.parentSpanContext?.spanId, PARENT_ID, "the caller's span is the parent");
    assert.equal(server.kind, 1, 'SERVER');
    const { inference, children } = inferenceUnder(server);
    for (const name of ['decode', 'embed', ...layers.map((l) => `search ${l}`), 'signals', 'score', 'review']) assert.ok(children.includes(name), `${name} in ${children.join(', ')}`);
    assert.deepEqual(
      { model: inference.attributes['ood.model'], version: inference.attributes['ood.model_version'], batch: inference.attributes['ood.batch_size'], flagged: inference.attributes['ood.flagged'] },
      { model: 'mnist', version: detector.info.version, batch: 2, flagged: 1 },
    );
    // The detector's phases sit inside the request's time.
    const [start, end] = [inference.startTime, inference.endTime].map(([s, ns]) => s * 1e3 + ns / 1e6);
    for (const child of childrenOf(spans, inference)) {
      const [cs, ce] = [child.startTime, child.endTime].map(([s, ns]) => s * 1e3 + ns / 1e6);
      assert.ok(cs >= start - 1 && ce <= end + 1, `${child.name} [${cs}, ${ce}] within [${start}, ${end}]`);
    }
  });

  it('gives a gRPC call a server span that continues the trace in its metadata', async () => {
    exporter.reset();
    const client = oipClient(await (app.grpc as NonNullable<typeof app.grpc>).listen(0, '127.0.0.1'));
    try {
      const metadata = new grpc.Metadata();
      metadata.set('traceparent', TRACEPARENT);
      await client.call('ModelInfer', { modelName: 'mnist', inputs: [{ name: 'pixels', datatype: 'FP32', shape: [1, 784], contents: { fp32Contents: rows[0] } }] }, metadata);
      await assert.rejects(client.call('ModelInfer', { modelName: 'absent', inputs: [{ name: 'pixels', datatype: 'FP32', shape: [1, 784], contents: { fp32Contents: rows[0] } }] }, metadata));
    } finally {
      client.close();
    }
    const calls = exporter.getFinishedSpans().filter((s) => s.name === 'inference.GRPCInferenceService/ModelInfer');
    const server = calls.find((s) => s.attributes['rpc.grpc.status_code'] === 0);
    assert.ok(server);
    // The client's own mistake is a status on the span, not an error of the server's.
    const refused = calls.find((s) => s.attributes['rpc.grpc.status_code'] === grpc.status.NOT_FOUND);
    assert.ok(refused, 'the unknown model call has its span');
    assert.notEqual(refused.status.code, 2, 'NOT_FOUND is not marked an error');
    assert.equal(server.spanContext().traceId, TRACE_ID);
    assert.equal(server.parentSpanContext?.spanId, PARENT_ID);
    assert.equal(server.attributes['rpc.system'], 'grpc');
    const { children } = inferenceUnder(server);
    assert.ok(children.includes('embed') && children.includes(`search ${layers[0]}`), children.join(', '));
  });
});

describe('tracing is asked for by the standard variables only', () => {
  it('stays off when nothing is set, or none, or the SDK is disabled; refuses an exporter it cannot run', () => {
    assert.equal(tracingWanted({}), false);
    assert.equal(tracingWanted({ OTEL_TRACES_EXPORTER: 'none' }), false);
    assert.equal(tracingWanted({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }), false);
    assert.equal(tracingWanted({ OTEL_TRACES_EXPORTER: 'console' }), true);
    assert.equal(tracingWanted({ OTEL_TRACES_EXPORTER: 'otlp,console' }), true);
    assert.throws(() => tracingWanted({ OTEL_TRACES_EXPORTER: 'jaeger' }), isOodError('CONFIG_INVALID', 'OTEL_TRACES_EXPORTER="jaeger"'));
    assert.throws(() => tracingWanted({ OTEL_TRACES_EXPORTER: 'console,none' }), isOodError('CONFIG_INVALID', 'none cannot be listed'));
  });

  it('gives up on the last spans after a bound, so a collector that is down cannot hold a shutdown', async () => {
    const stuck = { onStart() {}, onEnd() {}, forceFlush: async () => {}, shutdown: () => new Promise<void>(() => {}) };
    const tracing = await startTracing({ spanProcessors: [stuck] });
    const started = performance.now();
    await assert.rejects(tracing.shutdown(), new RegExp(`unsent after ${TRACING_SHUTDOWN_MS} ms`));
    assert.ok(performance.now() - started < TRACING_SHUTDOWN_MS + 1000);
  });

  it('prints a prediction\'s spans with OTEL_TRACES_EXPORTER=console', async () => {
    // The default cache, which the suite's other mnist tests have warmed: a start in seconds.
    const cacheDir = resolve(loadConfig({}).cacheDir);
    const lines: string[] = [];
    const { server } = await ServerProcess.start({ root: resolve('.'), cacheDir, model: 'mnist', env: { OTEL_TRACES_EXPORTER: 'console', OTEL_SERVICE_NAME: 'ood-test' }, quiet: () => true });
    try {
      server.onLine((line) => lines.push(line));
      const res = await fetch(`${server.baseUrl}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: [new Array(784).fill(0.5)] }) });
      assert.equal(res.status, 200);
      const printed = () => lines.join('\n');
      await waitFor(async () => /name: 'ood\.inference'/.test(printed()) && /name: 'request'/.test(printed()), 15_000);
      // This server scores on worker threads behind the batcher: the searches and signals ran there.
      for (const name of ['decode', 'embed', 'search hidden1', 'signals', 'score']) assert.match(printed(), new RegExp(`name: '${name}'`));
      assert.doesNotMatch(printed(), /url\.path': '\/readyz'/, 'the readiness polls are not traced');
      assert.match(printed(), /'service\.name': 'ood-test'/);
    } finally {
      await server.stop();
    }
  });
});
