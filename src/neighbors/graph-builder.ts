import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnSiblingWorker } from '../worker-threads.js';
import { HnswIndex, type HnswParams } from './hnsw-index.js';

export interface GraphBuildRequest {
  vectors: Float32Array;
  rows: number;
  dim: number;
  params: HnswParams;
  path: string;
}

export type GraphBuildReply = { type: 'progress'; done: number } | { type: 'done' } | { type: 'error'; error: string };

/**
 * Builds HNSW graphs on worker threads, at most `threads` at a time, so the graphs of several
 * layers go up side by side: hnswlib inserts on one thread, and a cold build of 55,000 points in
 * four layers spent a minute on them one after the other. A graph comes back through a file in
 * `scratchDir` (hnswlib's own format), which is removed once it has been read.
 */
export class GraphBuilder {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly threads: number,
    private readonly scratchDir: string,
  ) {
    if (!(threads >= 1)) throw new RangeError(`GraphBuilder needs at least one thread, got ${threads}`);
  }

  async build(vectors: Float32Array, rows: number, dim: number, params: HnswParams, onProgress?: (done: number) => void): Promise<HnswIndex> {
    await this.slot();
    const path = join(this.scratchDir, `.graph-${process.pid}-${randomBytes(6).toString('hex')}.hnsw`);
    try {
      await this.inThread({ vectors, rows, dim, params, path }, onProgress);
      return await HnswIndex.load(path, dim, params);
    } finally {
      await rm(path, { force: true });
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private async slot(): Promise<void> {
    if (this.running >= this.threads) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
  }

  private inThread(request: GraphBuildRequest, onProgress?: (done: number) => void): Promise<void> {
    const worker = spawnSiblingWorker(import.meta.url, 'graph-build-worker', undefined);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        void worker.terminate();
        if (err) reject(err);
        else resolve();
      };
      worker.on('message', (reply: GraphBuildReply) => {
        if (reply.type === 'progress') onProgress?.(reply.done);
        else if (reply.type === 'done') finish();
        else finish(new Error(`building an HNSW graph failed: ${reply.error}`));
      });
      worker.on('error', (err) => finish(err));
      worker.on('exit', (code) => finish(new Error(`the graph-building thread exited (code ${code}) before it finished`)));
      // A copy, not a transfer: the caller still needs its activations for the density fit.
      worker.postMessage(request);
    });
  }
}
