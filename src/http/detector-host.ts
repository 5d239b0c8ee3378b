import type { DetectorLease } from '../detector/detector-slot.js';
import type { Detector } from '../detector/types.js';

/**
 * How the HTTP layer reaches the detector. The server listens before the model and its indexes
 * are loaded, and a reload can swap them later, so the detector is looked up per request instead
 * of being passed in once.
 */
export interface DetectorHost {
  /** Undefined while the model and indexes are still loading (or failed to load). */
  detector(): Detector | undefined;
  /** Holds the current detector for one request's whole lifetime; undefined when there is none. */
  acquire(): DetectorLease | undefined;
  /** Why loading failed, when it did; /readyz reports it. */
  lastError?(): string | undefined;
}
