import type { Detector, ModelInfo, PredictOptions, PredictResult, ReferenceExample, TextCodec } from './types.js';

export interface BatchingOptions {
  /** A coalesced batch stops growing at this many rows; a larger request is scored on its own. */
  maxRows: number;
  /**
   * How long the first queued request may wait for company, in milliseconds. 0 adds no delay:
   * requests that arrive while a batch is being scored form the next one.
   */
  maxDelayMs: number;
  /**
   * Batches scored at once (default 1). With scoring threads, a second batch can be embedded on
   * the main thread while the threads search the first.
   */
  concurrency?: number;
}

interface Pending {
  inputs: Float32Array;
  rows: number;
  options: PredictOptions;
  resolve: (result: PredictResult) => void;
  reject: (err: unknown) => void;
}

/**
 * Dynamic batching, as Triton's dynamic batcher does it: requests that arrive while the detector
 * is busy are scored together in one forward pass and one search pass per layer, then split
 * again. A lone request at low load is scored at once. The fixed cost of a call (a forward
 * pass, four native search calls, the density product that reads a 784 x 784 factor) is paid
 * once per batch instead of once per request.
 *
 * Only requests with the same options share a batch. When a shared batch fails (an instance
 * that overflows, say), each of its requests is scored again on its own, so every request gets
 * its own answer or its own error, naming its own row numbers.
 */
export class BatchingDetector implements Detector {
  readonly info: ModelInfo;
  private readonly queue: Pending[] = [];
  private running = 0;
  /** Cancels the scheduled start of the next batch, when one is scheduled. */
  private cancelScheduled: (() => void) | undefined;
  private delayed = false;

  constructor(
    private readonly inner: Detector,
    private readonly options: BatchingOptions,
  ) {
    this.info = inner.info;
  }

  predict(inputs: Float32Array, rows: number, options: PredictOptions = {}): Promise<PredictResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ inputs, rows, options, resolve, reject });
      // A batch that filled up while waiting for company goes now.
      if (this.delayed && this.queuedRows() >= this.options.maxRows) {
        this.cancelScheduled?.();
        this.cancelScheduled = undefined;
      }
      this.schedule();
    });
  }

  get text(): TextCodec | undefined {
    return this.inner.text;
  }

  reference(id: number): ReferenceExample | undefined {
    return this.inner.reference?.(id);
  }

  featureScale(): Float64Array | undefined {
    return this.inner.featureScale?.();
  }

  dispose(): void {
    this.cancelScheduled?.();
    this.cancelScheduled = undefined;
    this.inner.dispose?.();
  }

  private schedule(): void {
    if (this.running >= (this.options.concurrency ?? 1) || this.cancelScheduled || this.queue.length === 0) return;
    // setImmediate even without a delay: requests whose bodies were parsed in the same turn of
    // the event loop then join the first batch instead of waiting for the second.
    this.delayed = this.options.maxDelayMs > 0 && this.queuedRows() < this.options.maxRows;
    if (this.delayed) {
      const timer = setTimeout(() => this.fire(), this.options.maxDelayMs);
      this.cancelScheduled = () => clearTimeout(timer);
    } else {
      const immediate = setImmediate(() => this.fire());
      this.cancelScheduled = () => clearImmediate(immediate);
    }
  }

  private fire(): void {
    this.cancelScheduled = undefined;
    this.delayed = false;
    this.running++;
    void this.runBatch(this.take()).finally(() => {
      this.running--;
      this.schedule();
    });
    // Room for another batch right away, if the queue still holds one.
    this.schedule();
  }

  private queuedRows(): number {
    return this.queue.reduce((sum, p) => sum + p.rows, 0);
  }

  /** The oldest request and every later one with the same options that still fits. */
  private take(): Pending[] {
    const first = this.queue.shift() as Pending;
    const batch = [first];
    let rows = first.rows;
    const neighbors = first.options.includeNeighbors ?? false;
    for (let i = 0; i < this.queue.length && rows < this.options.maxRows; ) {
      const next = this.queue[i];
      if ((next.options.includeNeighbors ?? false) === neighbors && rows + next.rows <= this.options.maxRows) {
        batch.push(next);
        rows += next.rows;
        this.queue.splice(i, 1);
      } else {
        i++;
      }
    }
    return batch;
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch;
      await this.inner.predict(only.inputs, only.rows, only.options).then((r) => only.resolve({ ...r, batchRows: only.rows }), only.reject);
      return;
    }
    const rows = batch.reduce((sum, p) => sum + p.rows, 0);
    const cols = batch[0].inputs.length / batch[0].rows;
    const inputs = new Float32Array(rows * cols);
    let offset = 0;
    for (const p of batch) {
      inputs.set(p.inputs, offset * cols);
      offset += p.rows;
    }
    let result: PredictResult;
    try {
      result = await this.inner.predict(inputs, rows, batch[0].options);
    } catch {
      for (const p of batch) await this.inner.predict(p.inputs, p.rows, p.options).then((r) => p.resolve({ ...r, batchRows: p.rows }), p.reject);
      return;
    }
    offset = 0;
    for (const p of batch) {
      // Each shares the batch's phases; batchRows lets the metric charge it its part of them.
      p.resolve({ predictions: result.predictions.slice(offset, offset + p.rows), batchRows: rows, phases: result.phases });
      offset += p.rows;
    }
  }
}
