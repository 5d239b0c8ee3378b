import { readFile } from 'node:fs/promises';
import os from 'node:os';

/**
 * Proportional set size: each resident page divided by the number of mappings that share it. A
 * graph memory-mapped by three threads is counted once here, three times in RSS.
 */
export async function readProcPss(pid: number): Promise<number | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    return Number(/^Pss:\s+(\d+) kB/m.exec(text)?.[1] ?? Number.NaN) * 1024;
  } catch {
    return undefined; // gone, or not Linux
  }
}

/** VmRSS (resident now) and VmHWM (peak resident since start) of a process, in bytes, from /proc. */
export async function readProcMemory(pid: number): Promise<{ rss: number; hwm: number } | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined; // gone, or not Linux
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

/**
 * Polls a process's VmRSS and PSS every intervalMs and keeps the highest values seen: the peaks
 * over a window of the run, which VmHWM (peak since the process started) cannot give. PSS is
 * the one to size a pod by: RSS counts a file mapped by three threads three times.
 */
export class RssSampler {
  private peak = 0;
  private peakPss = 0;
  private last: { rss: number; hwm: number } | undefined;
  private readonly timer: NodeJS.Timeout;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly pid: number,
    intervalMs = 200,
  ) {
    this.timer = setInterval(() => {
      this.pending = this.sample();
    }, intervalMs);
    this.pending = this.sample();
  }

  private async sample(): Promise<void> {
    const [mem, pss] = await Promise.all([readProcMemory(this.pid), readProcPss(this.pid)]);
    if (pss !== undefined && pss > this.peakPss) this.peakPss = pss;
    if (!mem) return;
    this.last = mem;
    if (mem.rss > this.peak) this.peak = mem.rss;
  }

  /** Stops polling; returns the peak VmRSS and PSS of the window and the last VmHWM read (bytes). */
  async stop(): Promise<{ peakRss: number; peakPss: number; hwm: number }> {
    clearInterval(this.timer);
    await this.pending;
    await this.sample();
    return { peakRss: this.peak, peakPss: this.peakPss || Number.NaN, hwm: this.last?.hwm ?? Number.NaN };
  }
}

/** `uptime`'s three load averages, as printed. */
export function loadAverage(): string {
  return os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(', ');
}

export function mib(bytes: number): string {
  return Number.isFinite(bytes) ? (bytes / 2 ** 20).toFixed(1) : 'n/a';
}
