import { parentPort, workerData } from 'node:worker_threads';
import type { Matrix } from '../math/matrix.js';
import { readCacheEntry } from './index-cache.js';
import { packScores, transferables } from './evidence-transfer.js';
import { InlineLayerScorer } from './layer-scorer.js';
import { prepareModels } from './signals/signal.js';
import { signalsNamed } from './signals/table.js';
import type { ScoringWorkerInit, ScoringWorkerReply, ScoringWorkerRequest } from './threaded-scorer.js';

/**
 * One scoring thread: a detector's graphs, memory-mapped from the cache entry the main thread
 * has just written or checked (the page cache holds one copy for every thread), and its own
 * copy of the reference models, searched on request.
 */
const port = parentPort;
if (!port) throw new Error('scoring-worker.ts runs as a worker thread only');
const init = workerData as ScoringWorkerInit;

const ready = (async () => {
  const signals = signalsNamed(init.signals);
  const { entry, miss } = await readCacheEntry(init.entryDir, init.key, init.graphs, init.layerNames, signals, { map: true });
  if (!entry) throw new Error(`cache entry ${init.entryDir} could not be read: ${miss?.reason ?? 'it is missing'}`);
  await prepareModels(signals, entry.models);
  return new InlineLayerScorer({
    indexes: entry.indexes,
    signals,
    models: entry.models,
    referenceLabels: entry.referenceLabels,
    classes: init.classes,
    k: init.k,
    layerNames: init.layerNames,
  });
})();

const send = (reply: ScoringWorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

ready.then(
  () => send({ type: 'ready' }),
  (err: unknown) => send({ type: 'failed', error: message(err) }),
);

port.on('message', (request: ScoringWorkerRequest) => {
  ready
    .then(async (scorer) => {
      const scored = await scorer.score(request.activations as Matrix[], request.rows, request.withNeighbors);
      const packed = packScores(scored, init.layerNames.length, init.classes);
      send({ type: 'scored', id: request.id, packed }, transferables(packed));
    })
    .catch((err: unknown) => send({ type: 'error', id: request.id, error: message(err) }));
});
