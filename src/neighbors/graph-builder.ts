import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnSiblingWorker } from '../worker-threads.js';
import type { GraphBuildJob, GraphOutcome } from './graph-build.js';
import { openGraph } from './graph-engine.js';
import type { NeighborIndex } from './neighbor-index.js';

export interface GraphBuildRequest {
  job: GraphBuildJob;
  path: string;
}

export type GraphBuildReply = { type: 'progress'; done: number } | { type: 'done'; outcome: GraphOutcome } | { type: 'error'; error: string };

/**
 * Builds graphs on worker threads, so a build never holds up the event loop: at most `slots`
 * at a time, each inserting on `job.buildThreads` native threads. usearch inserts on every core,
 * so one graph at a time is the fastest; hnswlib inserts on one thread, so its graphs go up side
 * by side, one per core. A graph comes back through a file in `scratchDir` (its engine's own
 * format), which is removed once it has been read.
 */
export class GraphBuilder {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly slots: number,
    private readonly scratchDir: string,
  ) {
    if (!(slots >= 1)) throw new RangeError(`GraphBuilder needs at least one thread, got ${slots}`);
  }

  async build(job: GraphBuildJob, onProgress?: (done: number) => void): Promise<{ index: NeighborIndex; outcome: GraphOutcome }> {
    await this.slot();
    const path = join(this.scratchDir, `.graph-${process.pid}-${randomBytes(6).toString('hex')}.graph`);
    try {
      const outcome = await this.inThread({ job, path }, onProgress);
      const index = await openGraph(job.spec.engine, outcome.storage, path, job.dim, job.spec.params);
      return { index, outcome };
    } finally {
      await rm(path, { force: true });
      this.running--;
      this.waiting.shift()?.();
    }
  }

  private async slot(): Promise<void> {
    if (this.running >= this.slots) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
  }

  private inThread(request: GraphBuildRequest, onProgress?: (done: number) => void): Promise<GraphOutcome> {
    const worker = spawnSiblingWorker(import.meta.url, 'graph-build-worker', undefined);
    return new Promise<GraphOutcome>((resolve, reject) => {
      let settled = false;
      const finish = (result: GraphOutcome | Error) => {
        if (settled) return;
        settled = true;
        void worker.terminate();
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      worker.on('message', (reply: GraphBuildReply) => {
        if (reply.type === 'progress') onProgress?.(reply.done);
        else if (reply.type === 'done') finish(reply.outcome);
        else finish(new Error(`building an HNSW graph failed: ${reply.error}`));
      });
      worker.on('error', (err) => finish(err));
      worker.on('exit', (code) => finish(new Error(`the graph-building thread exited (code ${code}) before it finished`)));
      // A copy, not a transfer: the caller still needs its activations for the density fit.
      worker.postMessage(request);
    });
  }
}
