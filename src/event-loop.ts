/**
 * Let queued I/O run (health checks, signals) between slices of long synchronous work, such
 * as building a cache entry while the server is already listening.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Runs work written as a generator that yields between slices, pausing for the event loop at each. */
export async function runSteps<T>(steps: Generator<void, T>): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await yieldToEventLoop();
  }
}
