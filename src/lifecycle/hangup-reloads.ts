import type { Log } from '../log.js';
import type { ServedModels } from './served-models.js';

/** SIGHUP reloads every served model in the background; the server keeps running. */
export class HangupReloads {
  private ignoring = false;

  constructor(
    private readonly models: ServedModels,
    private readonly log: Log,
  ) {}

  // Each slot reloads the model serving in it now: after a switch over HTTP, the new one.
  private readonly onHangup = (): void => {
    if (this.ignoring) {
      this.log.warn('SIGHUP ignored: the server is closing');
      return;
    }
    for (const served of this.models.all()) {
      const model = served.name();
      const start = this.models.start(model, 'sighup');
      if (start?.started) this.log.info({ model }, 'SIGHUP: reloading in the background');
      else this.log.warn({ status: start?.status }, 'SIGHUP ignored: a load is already running or the server is closing');
    }
  };

  install(): void {
    process.on('SIGHUP', this.onHangup);
  }

  /**
   * While the server drains, the listener stays and ignores the signal: without one, Node's
   * default for SIGHUP ends the process, dropping the requests being finished.
   */
  ignore(): void {
    this.ignoring = true;
  }

  uninstall(): void {
    process.removeListener('SIGHUP', this.onHangup);
  }
}
