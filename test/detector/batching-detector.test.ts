import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { BatchingDetector } from '../../src/detector/batching-detector.js';
import { searchSecondsByLayer } from '../../src/detector/work-phases.js';
import { OodError } from '../../src/errors.js';
import type { Detector, ModelInfo, Prediction, PredictOptions, PredictResult } from '../../src/detector/types.js';

const COLS = 2;

/**
 * A detector whose answer for a row is the row's first value, so a test can tell whose
 * predictions came back. It records every call and fails any batch holding a negative value,
 * naming the row as the real detector does.
 */
class EchoDetector implements Detector {
  readonly info = { name: 'echo', layers: ['a', 'b'] } as unknown as ModelInfo;
  readonly calls: { rows: number; options: PredictOptions }[] = [];
  disposed = false;
  constructor(private readonly delayMs = 5) {}

  async predict(inputs: Float32Array, rows: number, options: PredictOptions = {}): Promise<PredictResult> {
    this.calls.push({ rows, options });
    await sleep(this.delayMs);
    const predictions: Prediction[] = [];
    for (let r = 0; r < rows; r++) {
      const v = inputs[r * COLS];
      if (v < 0) throw new OodError('INVALID_INSTANCE', `instances[${r}]: negative`);
      predictions.push({ label: String(v), ...(options.includeNeighbors ? { layers: [{ neighbor_ids: [v] }] } : {}) } as unknown as Prediction);
    }
    // Searches of 1 ms (layer a) and 2 ms (layer b) per row.
    const searched = (layer: string, ms: number) => ({ name: 'search' as const, layer, rows, startMs: 0, endMs: rows * ms });
    return { predictions, phases: [searched('a', 1), searched('b', 2)] };
  }

  dispose(): void {
    this.disposed = true;
  }
}

/** A request of `rows` rows whose first values are start, start + 1, ... */
const rowsFrom = (start: number, rows: number) => {
  const x = new Float32Array(rows * COLS);
  for (let r = 0; r < rows; r++) x[r * COLS] = start + r;
  return x;
};
const labels = (r: PredictResult) => r.predictions.map((p) => Number(p.label));
const range = (start: number, n: number) => Array.from({ length: n }, (_, i) => start + i);

describe('BatchingDetector', () => {
  it('scores requests that arrive together in one pass and gives each its own rows', async () => {
    const inner = new EchoDetector();
    const batching = new BatchingDetector(inner, { maxRows: 64, maxDelayMs: 0 });
    const results = await Promise.all([batching.predict(rowsFrom(0, 1), 1), batching.predict(rowsFrom(10, 3), 3), batching.predict(rowsFrom(20, 2), 2)]);
    assert.deepEqual(inner.calls.map((c) => c.rows), [6]);
    assert.deepEqual(results.map(labels), [[0], [10, 11, 12], [20, 21]]);
    assert.deepEqual(results.map((r) => r.batchRows), [6, 6, 6]);
    // Each carries the pass's phases; charged by its share of the rows, the per-request search
    // times add up to the pass's, as the metric records them.
    const charged = (r: PredictResult) => searchSecondsByLayer(r.phases, r.predictions.length / (r.batchRows ?? r.predictions.length));
    const total = results.reduce((sum, r) => sum + charged(r).a, 0);
    assert.ok(Math.abs(total - 0.006) < 1e-12);
    assert.ok(Math.abs(charged(results[1]).b - 0.006) < 1e-12);
  });

  it('scores a lone request at once, and batches those that arrive while it is scored', async () => {
    const inner = new EchoDetector(20);
    const batching = new BatchingDetector(inner, { maxRows: 64, maxDelayMs: 0 });
    const first = batching.predict(rowsFrom(0, 1), 1);
    await sleep(5);
    assert.deepEqual(inner.calls.map((c) => c.rows), [1], 'the first request did not wait for company');
    const later = [batching.predict(rowsFrom(1, 1), 1), batching.predict(rowsFrom(2, 1), 1)];
    await sleep(1);
    const late = batching.predict(rowsFrom(3, 1), 1);
    const results = await Promise.all([first, ...later, late]);
    assert.deepEqual(inner.calls.map((c) => c.rows), [1, 3]);
    assert.deepEqual(results.map(labels), [[0], [1], [2], [3]]);
  });

  it('never grows a batch past maxRows, and scores a larger request on its own', async () => {
    const inner = new EchoDetector();
    const batching = new BatchingDetector(inner, { maxRows: 4, maxDelayMs: 0 });
    const results = await Promise.all([
      batching.predict(rowsFrom(0, 3), 3),
      batching.predict(rowsFrom(10, 2), 2),
      batching.predict(rowsFrom(20, 6), 6),
      batching.predict(rowsFrom(30, 1), 1),
    ]);
    // The 2-row request does not fit beside the 3-row one, the 1-row one does.
    assert.deepEqual(inner.calls.map((c) => c.rows), [4, 2, 6]);
    assert.deepEqual(results.map(labels), [range(0, 3), range(10, 2), range(20, 6), [30]]);
  });

  it('never mixes requests with different options', async () => {
    const inner = new EchoDetector();
    const batching = new BatchingDetector(inner, { maxRows: 64, maxDelayMs: 0 });
    const results = await Promise.all([
      batching.predict(rowsFrom(0, 1), 1),
      batching.predict(rowsFrom(1, 1), 1, { includeNeighbors: true }),
      batching.predict(rowsFrom(2, 1), 1),
    ]);
    assert.deepEqual(
      inner.calls.map((c) => [c.rows, c.options.includeNeighbors ?? false]),
      [
        [2, false],
        [1, true],
      ],
    );
    assert.deepEqual(results.map(labels), [[0], [1], [2]]);
    assert.equal('layers' in results[0].predictions[0], false);
    assert.equal('layers' in results[1].predictions[0], true);
  });

  it('when a shared pass fails, scores each request alone so only the bad one fails, with its own row number', async () => {
    const inner = new EchoDetector();
    const batching = new BatchingDetector(inner, { maxRows: 64, maxDelayMs: 0 });
    const bad = rowsFrom(5, 3);
    bad[1 * COLS] = -1;
    const settled = await Promise.allSettled([batching.predict(rowsFrom(0, 2), 2), batching.predict(bad, 3), batching.predict(rowsFrom(9, 1), 1)]);
    assert.deepEqual(inner.calls.map((c) => c.rows), [6, 2, 3, 1]);
    assert.equal(settled[0].status, 'fulfilled');
    assert.deepEqual(labels((settled[0] as PromiseFulfilledResult<PredictResult>).value), [0, 1]);
    assert.equal(settled[1].status, 'rejected');
    assert.match(String((settled[1] as PromiseRejectedResult).reason), /instances\[1\]: negative/);
    assert.deepEqual(labels((settled[2] as PromiseFulfilledResult<PredictResult>).value), [9]);
  });

  it('with a delay, waits for company up to the delay, and goes early once the batch is full', async () => {
    const inner = new EchoDetector(1);
    const waiting = new BatchingDetector(inner, { maxRows: 64, maxDelayMs: 30 });
    const a = waiting.predict(rowsFrom(0, 1), 1);
    await sleep(10);
    assert.equal(inner.calls.length, 0, 'the first request waits for company');
    const b = waiting.predict(rowsFrom(1, 1), 1);
    assert.deepEqual((await Promise.all([a, b])).map(labels), [[0], [1]]);
    assert.deepEqual(inner.calls.map((c) => c.rows), [2]);

    const full = new EchoDetector(1);
    const small = new BatchingDetector(full, { maxRows: 2, maxDelayMs: 10_000 });
    const started = performance.now();
    await Promise.all([small.predict(rowsFrom(0, 1), 1), small.predict(rowsFrom(1, 1), 1)]);
    assert.ok(performance.now() - started < 5_000, 'a full batch did not wait out the delay');
    assert.deepEqual(full.calls.map((c) => c.rows), [2]);
  });

  it('passes its info through and disposes what it wraps', () => {
    const inner = new EchoDetector();
    const batching = new BatchingDetector(inner, { maxRows: 8, maxDelayMs: 0 });
    assert.equal(batching.info, inner.info);
    batching.dispose();
    assert.equal(inner.disposed, true);
  });
});

describe('BatchingDetector with concurrency', () => {
  it('scores up to `concurrency` batches at once, and no more', async () => {
    const inner = new EchoDetector(20);
    let inFlight = 0;
    let most = 0;
    const counting: Detector = {
      info: inner.info,
      predict: async (inputs, rows, options) => {
        most = Math.max(most, ++inFlight);
        try {
          return await inner.predict(inputs, rows, options);
        } finally {
          inFlight--;
        }
      },
    };
    const batching = new BatchingDetector(counting, { maxRows: 2, maxDelayMs: 0, concurrency: 2 });
    const results = await Promise.all(range(0, 8).map((v) => batching.predict(rowsFrom(v, 1), 1)));
    assert.deepEqual(results.map(labels), range(0, 8).map((v) => [v]));
    assert.equal(most, 2);
    assert.deepEqual(inner.calls.map((c) => c.rows), [2, 2, 2, 2]);
  });
});
