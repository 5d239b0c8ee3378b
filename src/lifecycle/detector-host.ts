import type { DetectorLease } from './detector-slot.js';
import type { Detector } from '../detector/types.js';

/**
 * How the HTTP layer reaches the detectors. The server listens before the models and their
 * indexes are loaded, and a reload can swap them later, so a detector is looked up per request
 * instead of being passed in once. `model` names a served model; absent, it means the default
 * one (the first configured), which also answers POST /predict.
 */
export interface DetectorHost {
  /** The names of the served models, the default first: a route for any other name is a 404. */
  names(): string[];
  /** Undefined while the model and indexes are still loading (or failed to load). */
  detector(model?: string): Detector | undefined;
  /** Holds the model's current detector for one request's whole lifetime; undefined when there is none. */
  acquire(model?: string): DetectorLease | undefined;
  /** Why loading failed, when it did; /readyz reports it. */
  lastError?(model?: string): string | undefined;
}
