import fp from 'fastify-plugin';
import type { ModelInfo, Prediction, PredictResult, TextCodec } from '../../detector/types.js';
import { OodError } from '../../errors.js';
import { firstImprobableRow, inputLayout } from '../../model/model-inputs.js';
import type { DriftTicket } from '../../drift/drift-monitor.js';
import type { ReviewStore } from '../review/review-store.js';
import type { Protocol } from './metrics.js';
import type { Span } from '@opentelemetry/api';
import { inSpan, phaseSpans } from '../tracing/spans.js';

/** A request's rows, decoded for the model that will score them. */
export interface DecodedBatch {
  inputs: Float32Array;
  rows: number;
}

export interface ScoreCall {
  /** A served model's name; the default model when absent. */
  model?: string;
  /**
   * Turns the request body into the model's input. It runs once the detector is leased, so it
   * decodes for the very model and version that will score (a reload cannot come between).
   * `maxRows` lets it refuse an oversized batch before decoding it; `text` is a text model's
   * tokenizer, for requests that send strings.
   */
  decode(info: ModelInfo, maxRows: number, text: TextCodec | undefined): DecodedBatch | Promise<DecodedBatch>;
  includeNeighbors?: boolean;
  /** How the request came, for the metrics; REST when absent. */
  protocol?: Protocol;
}

export interface ScoredRequest {
  /** The model that scored, as it was at the time. */
  info: ModelInfo;
  result: PredictResult;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The one scoring path every protocol's routes take: lease, decode, predict, count, keep for review, release. */
    score(call: ScoreCall): Promise<ScoredRequest>;
    /** The flagged inputs kept for review; undefined when the review is off. */
    review: ReviewStore | undefined;
  }
}

export interface ScoringPluginOptions {
  /** Most rows one request may score. */
  maxBatch: number;
  /** Keeps flagged inputs for review; absent when the review is off. */
  review?: ReviewStore;
}

/** Answers carry neighbour ids only when the client asked, even when the review needed them. */
function withoutNeighborIds(predictions: Prediction[]): Prediction[] {
  return predictions.map((p) => ({ ...p, layers: p.layers.map(({ neighbor_ids: _ids, ...layer }) => layer) }));
}

export function batchTooLarge(rows: number, maxBatch: number, what = 'The request'): OodError {
  return new OodError('BATCH_TOO_LARGE', `${what} holds ${rows} instances; at most ${maxBatch} are allowed per request`);
}

export default fp<ScoringPluginOptions>(
  async (app, { maxBatch, review }) => {
    app.decorate('review', review);
    const score = async (call: ScoreCall, span: Span | undefined): Promise<ScoredRequest> => {
      const lease = app.leaseDetector(call.model);
      let ticket: DriftTicket | undefined;
      try {
        const { detector } = lease;
        // The drift statistic takes requests in the order they got here, not the order they finish.
        ticket = app.drift.admit(detector);
        const { inputs, rows } = await inSpan('decode', () => call.decode(detector.info, maxBatch, detector.text));
        if (rows > maxBatch) throw batchTooLarge(rows, maxBatch);
        // Every protocol decodes to packed rows, so the one check that spans a whole instance's
        // values (class scores given as probabilities) is made here, for all of them.
        if (detector.info.inputs.some((i) => i.probabilities)) {
          const improbable = firstImprobableRow(inputs, rows, inputLayout(detector.info.inputs), 'instance');
          if (improbable) throw new OodError('INVALID_INSTANCE', improbable.message);
        }
        const asked = call.includeNeighbors ?? false;
        // The review shows a flagged input's neighbours, so it needs their ids for every row.
        const result = await detector.predict(inputs, rows, { includeNeighbors: asked || review !== undefined });
        phaseSpans(span, result.phases, result.batchRows);
        app.metrics.recordPrediction(result, detector.info.name, call.protocol ?? 'rest');
        ticket.record(result.predictions.map((p) => p.p_values.combined));
        if (review) {
          await inSpan('review', () => review.record(detector, inputs, result.predictions));
          if (!asked) result.predictions = withoutNeighborIds(result.predictions);
        }
        span?.setAttributes({
          'ood.model': detector.info.name,
          'ood.model_version': detector.info.version,
          'ood.batch_size': rows,
          'ood.flagged': result.predictions.filter((p) => p.is_outlier).length,
        });
        return { info: detector.info, result };
      } finally {
        // After record() this does nothing; after a failure it gives the request's place up.
        ticket?.cancel();
        lease.release();
      }
    };
    // A span per request (when tracing is on), whose children are the request's decode, the
    // detector's phases and the review.
    app.decorate('score', (call: ScoreCall): Promise<ScoredRequest> => inSpan('ood.inference', (span) => score(call, span)));
  },
  { name: 'ood-scoring', fastify: '5.x', dependencies: ['ood-detector', 'ood-metrics', 'ood-drift'] },
);
