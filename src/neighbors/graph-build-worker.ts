import { parentPort } from 'node:worker_threads';
import type { GraphBuildReply, GraphBuildRequest } from './graph-builder.js';
import { HnswIndex } from './hnsw-index.js';

/** Builds one HNSW graph per request and saves it where asked; the caller loads it back. */
const port = parentPort;
if (!port) throw new Error('graph-build-worker.ts runs as a worker thread only');
const send = (reply: GraphBuildReply) => port.postMessage(reply);
const PROGRESS_ROWS = 2000;

port.on('message', (job: GraphBuildRequest) => {
  void (async () => {
    try {
      const index = HnswIndex.create(job.dim, job.rows, job.params);
      for (let start = 0; start < job.rows; start += PROGRESS_ROWS) {
        const n = Math.min(PROGRESS_ROWS, job.rows - start);
        index.addAll(job.vectors.subarray(start * job.dim, (start + n) * job.dim), n);
        send({ type: 'progress', done: start + n });
      }
      await index.save(job.path);
      index.dispose();
      send({ type: 'done' });
    } catch (err) {
      send({ type: 'error', error: err instanceof Error ? err.message : String(err) });
    }
  })();
});
