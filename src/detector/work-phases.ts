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
