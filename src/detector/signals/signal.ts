import type { z } from 'zod';
import type { Matrix } from '../../math/matrix.js';

/**
 * Raw per-input evidence, before any calibration: what the neighbour searches found in each
 * indexed layer, and what each signal with a reference model measured. Computed once per input.
 */
export interface Evidence {
  /** counts[l][j]: neighbours of class j among the k found in layer l. */
  counts: Int32Array[];
  /** Squared-L2 distance to the nearest reference point, per layer (normalised activations). */
  nearestDistances: Float64Array;
  /** Mean squared-L2 distance to the k neighbours, per layer. */
  meanDistances: Float64Array;
  /** By signal name, for the signals with a reference model: one measured value per layer. */
  measured: Record<string, Float64Array>;
}

/**
 * A per-layer model a signal fits on the reference set's activations (as the density signal fits
 * a Mahalanobis model), kept in the cache entry beside the graphs and read back at start-up.
 */
export interface ReferenceModel<M> {
  /** One layer's model, from its raw (not normalised) reference activations. */
  fit(activations: Matrix, labels: Int32Array, classes: number): Promise<M>;
  /** Work done once before the first score, after a fit or a read, pausing for the event loop. */
  prepare?(model: M): Promise<void>;
  /** The model as bytes plus a small JSON description, for the cache entry. */
  encode(model: M): { bytes: Uint8Array; meta: unknown };
  /** The inverse of encode for a layer `dim` wide; throws on anything it cannot trust. */
  decode(bytes: Uint8Array, meta: unknown, dim: number): M;
  /** One value per row of a batch of this layer's raw activations. */
  measure(model: M, activations: Matrix): Float64Array | Promise<Float64Array>;
  /** Frees what prepare or measure took outside the JavaScript heap; the model is not used again. */
  release?(model: M): Promise<void>;
}

/**
 * One of the signals the outlier decision combines. Each gets its own conformal p-value and a
 * share of the significance; the calibration, the cache entry and the answers key everything by
 * `name`. Adding one means writing this object and listing it in signals/table.ts.
 *
 * `P` is what calibration learns for it (JSON, cached); `M` its per-layer reference model.
 */
export interface Signal<P = unknown, M = unknown> {
  /** Lower-case letters, digits and dashes: it names files in the cache and keys in answers. */
  readonly name: string;
  readonly reference?: ReferenceModel<M>;
  /** The schema of the calibration parameters of a model with `layers` indexed layers. */
  paramsSchema(layers: number): z.ZodType<P>;
  /** Learns its parameters from the evidence of the calibration set's first half. */
  calibrate(evidence: Evidence[], predicted: Int32Array, k: number): P;
  /** Raw nonconformity of an input given the model's prediction: the larger, the stranger. */
  score(evidence: Evidence, predicted: number, params: P, k: number): number;
}

export const SIGNAL_NAME = /^[a-z][a-z0-9-]*$/;

/**
 * Refuses names that would break what is keyed by them: not of SIGNAL_NAME's form (they name
 * cache files), `combined` (the decision's own p-value), or twice the same.
 */
export function assertSignalNames(signals: readonly Signal[]): void {
  const seen = new Set<string>();
  for (const { name } of signals) {
    if (!SIGNAL_NAME.test(name)) throw new Error(`signal name "${name}" must match ${SIGNAL_NAME}`);
    if (name === 'combined') throw new Error('"combined" names the combined p-value, not a signal');
    if (seen.has(name)) throw new Error(`two signals are named "${name}"`);
    seen.add(name);
  }
}

/** What a signal measured in each layer; a clear error when its reference model never ran. */
export function measuredBy(evidence: Evidence, signal: string): Float64Array {
  const values = evidence.measured[signal];
  if (!values) throw new Error(`no evidence measured for the ${signal} signal`);
  return values;
}

/** By signal name, for the signals with a reference model: that model for each layer, in order. */
export type SignalModels = Record<string, unknown[]>;

/** The signals that fit a model on the reference set. */
export const withReference = (signals: readonly Signal[]) =>
  signals.filter((s): s is Signal & { reference: ReferenceModel<unknown> } => s.reference !== undefined);

/** Frees each reference model's native resources (release), once it scores no more. */
export async function releaseModels(signals: readonly Signal[], models: SignalModels): Promise<void> {
  // Every one is tried: one that fails to free must not strand the others.
  const results = await Promise.allSettled(
    withReference(signals).flatMap((s) => (models[s.name] ?? []).map((model) => s.reference.release?.(model))),
  );
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length > 0) throw new AggregateError(failed.map((r) => r.reason), `${failed.length} reference models could not be released`);
}

/** Each reference model's work ahead of the first score (prepare), pausing for the event loop. */
export async function prepareModels(signals: readonly Signal[], models: SignalModels): Promise<void> {
  for (const s of withReference(signals)) {
    if (!s.reference.prepare) continue;
    for (const model of models[s.name]) await s.reference.prepare(model);
  }
}
