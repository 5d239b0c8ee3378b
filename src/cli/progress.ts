/**
 * A one-line progress bar on stderr when it is a terminal; silent otherwise, where the per-step
 * log lines already say how far the work has come.
 */
export class Progress {
  private readonly tty = Boolean(process.stderr.isTTY);
  private last = 0;

  update(label: string, done: number, total: number): void {
    if (!this.tty) return;
    const now = Date.now();
    if (done < total && now - this.last < 100) return;
    this.last = now;
    const width = 30;
    const filled = Math.round((done / total) * width);
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
    if (done === total) process.stderr.write('\r\x1b[K');
  }
}
