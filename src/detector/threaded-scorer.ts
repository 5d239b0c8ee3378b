import type { Worker } from 'node:worker_threads';
import { OodError } from '../errors.js';
import { spawnSiblingWorker } from '../worker-threads.js';
import type { GraphSpec } from '../neighbors/graph-engine.js';
import type { Matrix } from '../math/matrix.js';
import { unpackScores, type PackedScores } from './evidence-transfer.js';
import type { LayerScorer, ScoredLayers } from './layer-scorer.js';

/** What a scoring thread needs to read its own copy of a detector's cache entry. */
export interface ScoringWorkerInit {
  entryDir: string;
  key: string;
  /** Per layer, in order. */
  graphs: GraphSpec[];
  layerNames: string[];
  /** The signals by name; the thread takes them from the table. */
  signals: string[];
  classes: number;
  k: number;
}

export interface ScoringWorkerRequest {
  id: number;
  rows: number;
  withNeighbors: boolean;
  activations: Matrix[];
}

export type ScoringWorkerReply =
  | { type: 'ready' }
  | { type: 'failed'; error: string }
  | { type: 'scored'; id: number; packed: PackedScores }
  | { type: 'error'; id: number; error: string };

interface Task {
  rows: number;
  resolve: (scored: ScoredLayers) => void;
  reject: (err: unknown) => void;
}

interface Thread {
  worker: Worker;
  tasks: Map<number, Task>;
  /** Rows sent and not yet answered: new work goes to the thread with the fewest. */
  queuedRows: number;
}

/**
 * The searches and signal measurements on worker threads, so that scoring uses every core while
 * the main thread parses requests and runs the model. Each thread memory-maps the same graph
 * files (usearch), so the graphs are in memory once; hnswlib graphs are copied per thread.
 * A thread that dies fails only the work it held, and is replaced.
 */
export class ThreadedLayerScorer implements LayerScorer {
  private readonly threads: Thread[] = [];
  private nextId = 1;
  private closed = false;

  private constructor(
    private readonly init: ScoringWorkerInit,
    private readonly onThreadError: (err: Error) => void,
  ) {}

  /** Resolves once every thread has loaded its copy; rejects, with none left running, if one cannot. */
  static async start(init: ScoringWorkerInit, threads: number, onThreadError: (err: Error) => void = () => {}): Promise<ThreadedLayerScorer> {
    const scorer = new ThreadedLayerScorer(init, onThreadError);
    try {
      await Promise.all(Array.from({ length: threads }, () => scorer.addThread()));
    } catch (err) {
      scorer.dispose();
      throw err;
    }
    return scorer;
  }

  get size(): number {
    return this.threads.length;
  }

  /** No thread has work in hand. */
  get idle(): boolean {
    return this.threads.every((t) => t.tasks.size === 0);
  }

  score(activations: Matrix[], rows: number, withNeighbors: boolean): Promise<ScoredLayers> {
    if (this.closed) return Promise.reject(new Error('ThreadedLayerScorer has been disposed'));
    const thread = this.threads.reduce<Thread | undefined>((best, t) => (!best || t.queuedRows < best.queuedRows ? t : best), undefined);
    if (!thread) return Promise.reject(new OodError('INTERNAL', 'no scoring thread is running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      thread.tasks.set(id, { rows, resolve, reject });
      thread.queuedRows += rows;
      thread.worker.ref();
      const request: ScoringWorkerRequest = { id, rows, withNeighbors, activations: activations.map(({ data, rows: r, cols }) => ({ data, rows: r, cols })) };
      thread.worker.postMessage(request);
    });
  }

  dispose(): void {
    this.closed = true;
    for (const thread of this.threads.splice(0)) {
      this.failTasks(thread, new Error('the detector was disposed while scoring'));
      void thread.worker.terminate();
    }
  }

  private addThread(): Promise<void> {
    const thread: Thread = { worker: spawnSiblingWorker(import.meta.url, 'scoring-worker', this.init), tasks: new Map(), queuedRows: 0 };
    return new Promise((resolve, reject) => {
      let started = false;
      thread.worker.on('message', (reply: ScoringWorkerReply) => {
        if (reply.type === 'ready') {
          started = true;
          // An idle thread must not keep the process alive (a CLI that forgot to dispose would
          // never exit); it holds a reference only while it has work, so a reply is awaited.
          thread.worker.unref();
          if (this.closed) {
            void thread.worker.terminate();
          } else {
            this.threads.push(thread);
          }
          resolve();
          return;
        }
        if (reply.type === 'failed') {
          reject(new OodError('CACHE_INVALID', `a scoring thread could not load its graphs: ${reply.error}`));
          void thread.worker.terminate();
          return;
        }
        const task = thread.tasks.get(reply.id);
        if (!task) return;
        thread.tasks.delete(reply.id);
        thread.queuedRows -= task.rows;
        if (thread.tasks.size === 0) thread.worker.unref();
        if (reply.type === 'scored') task.resolve(unpackScores(reply.packed));
        else task.reject(new Error(`scoring thread: ${reply.error}`));
      });
      thread.worker.on('error', (err) => {
        this.onThreadError(err);
        if (!started) reject(err);
      });
      thread.worker.on('exit', (code) => {
        const at = this.threads.indexOf(thread);
        if (at >= 0) this.threads.splice(at, 1);
        this.failTasks(thread, new Error(`a scoring thread exited (code ${code}) while scoring`));
        if (!started) reject(new Error(`a scoring thread exited (code ${code}) before it was ready`));
        // A crash, not a dispose: keep the pool at strength. Work goes to the others meanwhile.
        if (started && !this.closed) this.addThread().catch((err: unknown) => this.onThreadError(err as Error));
      });
    });
  }

  private failTasks(thread: Thread, err: Error): void {
    for (const task of thread.tasks.values()) task.reject(err);
    thread.tasks.clear();
    thread.queuedRows = 0;
  }
}
