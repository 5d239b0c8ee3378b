import type { Detector } from '../detector/types.js';

/**
 * How the HTTP layer reaches the detector. The server listens before the model and its indexes
 * are loaded, so the detector is looked up per request instead of being passed in once.
 */
export interface DetectorHost {
  /** Undefined while the model and indexes are still loading (or failed to load). */
  detector(): Detector | undefined;
  /** Why loading failed, when it did; /readyz reports it. */
  lastError?(): string | undefined;
}
