/** Small numeric helpers shared by the benchmark sections. */

/** Nearest-rank percentile (p in [0, 100]) of unsorted samples; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export function mean(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  return samples.reduce((a, b) => a + b, 0) / samples.length;
}

/** Milliseconds with a precision that suits their size. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value < 1) return value.toFixed(3);
  if (value < 100) return value.toFixed(2);
  return value.toFixed(0);
}

export function seconds(valueMs: number): string {
  return Number.isFinite(valueMs) ? (valueMs / 1000).toFixed(2) : 'n/a';
}

let progressTag = 'bench';

/** Names the running script in progress lines: [bench], [soak], [load]. */
export function setProgressTag(tag: string): void {
  progressTag = tag;
}

/** Progress goes to stderr so stdout carries only the report. */
export function progress(message: string): void {
  process.stderr.write(`[${progressTag}] ${message}\n`);
}
