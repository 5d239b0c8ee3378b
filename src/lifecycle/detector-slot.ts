import type { Detector } from '../detector/types.js';

/** One request's hold on a detector: the detector stays usable until the lease is released. */
export interface DetectorLease {
  readonly detector: Detector;
  /** Idempotent, so a finally block and an error path can both call it. */
  release(): void;
}

interface Held {
  readonly detector: Detector;
  leases: number;
  retired: boolean;
  disposed: boolean;
}

/**
 * The detector that serves requests, swappable while requests are in flight. A request leases
 * the detector once and uses that one to the end, so no answer mixes two versions; a swapped-out
 * detector is disposed only when its last lease is released, so no request loses its weights or
 * graphs halfway.
 */
export class DetectorSlot {
  private held: Held | undefined;

  /**
   * `onDisposeError` hears of a dispose that threw: it runs inside a request's release or a
   * swap, neither of which should fail because freeing an old detector did.
   */
  constructor(private readonly onDisposeError: (err: unknown) => void = () => {}) {}

  /** The serving detector, for reads that finish synchronously (model info, gauges). */
  detector(): Detector | undefined {
    return this.held?.detector;
  }

  acquire(): DetectorLease | undefined {
    const held = this.held;
    if (!held) return undefined;
    held.leases++;
    let released = false;
    return {
      detector: held.detector,
      release: () => {
        if (released) return;
        released = true;
        held.leases--;
        this.disposeIfDone(held);
      },
    };
  }

  /** Serves `next` from now on (nothing, when undefined); the previous one retires. */
  swap(next: Detector | undefined): void {
    const previous = this.held;
    // Retiring the serving detector in favour of itself would dispose it while it serves.
    if (previous && previous.detector === next) return;
    this.held = next ? { detector: next, leases: 0, retired: false, disposed: false } : undefined;
    if (previous) {
      previous.retired = true;
      this.disposeIfDone(previous);
    }
  }

  private disposeIfDone(held: Held): void {
    if (!held.retired || held.leases > 0 || held.disposed) return;
    held.disposed = true;
    try {
      held.detector.dispose?.();
    } catch (err) {
      this.onDisposeError(err);
    }
  }
}
