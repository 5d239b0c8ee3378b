import { parentPort } from 'node:worker_threads';
import { buildGraph } from './graph-build.js';
import type { GraphBuildReply, GraphBuildRequest } from './graph-builder.js';

/** Builds one graph per request and saves it where asked; the caller opens it. */
const port = parentPort;
if (!port) throw new Error('graph-build-worker.ts runs as a worker thread only');
const send = (reply: GraphBuildReply) => port.postMessage(reply);
/** Rows per insertion call: each call starts its native threads anew, so not too few. */
const CHUNK_ROWS = 4000;

port.on('message', ({ job, path }: GraphBuildRequest) => {
  void (async () => {
    try {
      const { index, outcome } = await buildGraph(job, { chunkRows: CHUNK_ROWS, after: (done) => send({ type: 'progress', done }) });
      await index.save(path);
      index.dispose();
      send({ type: 'done', outcome });
    } catch (err) {
      send({ type: 'error', error: err instanceof Error ? err.message : String(err) });
    }
  })();
});
