import { z } from 'zod';
import type { DetectorSlot } from './detector-slot.js';
import type { Detector } from '../detector/types.js';

export const ReloadStatusSchema = z.object({
  state: z.enum(['idle', 'loading', 'succeeded', 'failed']),
  /** What started it: the server's own start, SIGHUP, POST /admin/reload, or the repository API's load. */
  trigger: z.enum(['startup', 'sighup', 'http', 'repository']).optional(),
  /** The model being loaded, or last loaded by a reload. */
  model: z.string().optional(),
  /** The version a successful reload now serves. */
  version: z.string().optional(),
  started_at: z.string().optional(),
  finished_at: z.string().optional(),
  error: z.string().optional(),
});
export type ReloadStatus = z.infer<typeof ReloadStatusSchema>;
export type ReloadTrigger = NonNullable<ReloadStatus['trigger']>;

export interface ReloaderOptions {
  slot: DetectorSlot;
  /** Loads (or builds) a detector for this model name; the serving one is untouched meanwhile. */
  load: (model: string) => Promise<Detector>;
  /** Called once per load, after the swap on success; `loadSeconds` is the load's wall time. */
  onOutcome?: (outcome: 'success' | 'failure', status: ReloadStatus, loadSeconds: number) => void;
}

/**
 * Reloads in the background: the new model and its indexes are built while the old ones keep
 * serving, then swapped in at once. A failed reload leaves the old detector serving. One reload
 * runs at a time, since two would race to swap and double the memory of a build.
 */
export class Reloader {
  private current: ReloadStatus = { state: 'idle' };
  private running: Promise<void> | undefined;
  private closed = false;
  private startedAt = 0;

  constructor(private readonly opts: ReloaderOptions) {}

  status(): ReloadStatus {
    return { ...this.current };
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Starts a reload of `model`; false, changing nothing, when one is already running or closed. */
  start(model: string, trigger: ReloadTrigger): boolean {
    if (this.running || this.closed) return false;
    this.current = { state: 'loading', trigger, model, started_at: new Date().toISOString() };
    this.running = this.run(model).finally(() => {
      this.running = undefined;
    });
    return true;
  }

  /** Resolves when the running reload (if any) has finished, however it ended. */
  async settled(): Promise<void> {
    await this.running;
  }

  /** No new reloads; one that finishes after this disposes what it built instead of serving it. */
  close(): void {
    this.closed = true;
  }

  private async run(model: string): Promise<void> {
    const started = this.current;
    this.startedAt = performance.now();
    let loaded: Detector;
    try {
      // Through then() so a loader that throws synchronously is handled like one that rejects.
      loaded = await Promise.resolve().then(() => this.opts.load(model));
    } catch (err) {
      this.finish('failure', { ...started, state: 'failed', error: err instanceof Error ? err.message : String(err) });
      return;
    }
    if (this.closed) {
      loaded.dispose?.();
      this.finish('failure', { ...started, state: 'failed', error: 'the server closed during the reload' });
      return;
    }
    this.opts.slot.swap(loaded);
    this.finish('success', { ...started, state: 'succeeded', version: loaded.info.version });
  }

  private finish(outcome: 'success' | 'failure', status: ReloadStatus): void {
    this.current = { ...status, finished_at: new Date().toISOString() };
    this.opts.onOutcome?.(outcome, this.status(), (performance.now() - this.startedAt) / 1000);
  }
}
