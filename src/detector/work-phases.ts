/**
 * When each part of a prediction ran: the model's forward pass, each layer's neighbour search,
 * the signal measurements and the calibration. Recorded as wall-clock intervals (ms since the
 * epoch, comparable across worker threads), so a caller can draw them as trace spans without the
 * detector knowing about tracing; several requests scored in one batch share the batch's phases.
 */
export interface WorkPhase {
  name: 'embed' | 'search' | 'signals' | 'score';
  startMs: number;
  endMs: number;
  /** The rows this phase worked on (a slice of the batch). */
  rows: number;
  /** For a search: the layer. */
  layer?: string;
}

/**
 * Seconds each layer's neighbour searches took, summed over the phases and scaled by `share`:
 * a request's part of the batch it was scored in (its rows over the batch's), so that the
 * requests of one batch are charged the batch's search time once between them.
 */
export function searchSecondsByLayer(phases: readonly WorkPhase[], share = 1): Record<string, number> {
  const seconds: Record<string, number> = {};
  for (const { name, layer, startMs, endMs } of phases) {
    if (name !== 'search' || layer === undefined) continue;
    seconds[layer] = (seconds[layer] ?? 0) + ((endMs - startMs) / 1000) * share;
  }
  return seconds;
}

/** Milliseconds since the epoch, at sub-millisecond resolution. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Runs `work`, and records it as a phase that started now and ended when it settled. */
export async function timed<T>(phases: WorkPhase[], phase: Omit<WorkPhase, 'startMs' | 'endMs'>, work: () => T | Promise<T>): Promise<T> {
  const startMs = epochMs();
  try {
    return await work();
  } finally {
    phases.push({ ...phase, startMs, endMs: epochMs() });
  }
}
