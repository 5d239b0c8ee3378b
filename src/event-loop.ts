/**
 * Let queued I/O run (health checks, signals) between slices of long synchronous work, such
 * as building a cache entry while the server is already listening.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
