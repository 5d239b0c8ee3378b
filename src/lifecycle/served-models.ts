import type { DetectorLease } from './detector-slot.js';
import { DetectorSlot } from './detector-slot.js';
import { Reloader, type ReloadStatus, type ReloadTrigger } from './reloader.js';
import type { Detector } from '../detector/types.js';
import type { DetectorHost } from './detector-host.js';

/** One served model: the slot its detector serves from, and the reloader that fills it. */
export interface ServedModel {
  /** The name it was configured (or loaded through the repository) with; `name()` follows a switch to another model. */
  readonly configured: string;
  /** Named at start (OOD_MODEL, OOD_MODELS), or loaded later by name through the model repository. */
  readonly origin: 'config' | 'repository';
  readonly slot: DetectorSlot;
  readonly reloader: Reloader;
  /** Why its last load failed while nothing served, for /readyz. */
  loadError?: string;
  /** The model serving in this slot, or the configured one until something does. */
  name(): string;
}

/** How the served models load, and who hears how each load ended. */
export interface ServedModelsHandlers {
  load(model: string): Promise<Detector>;
  onOutcome(served: ServedModel, outcome: 'success' | 'failure', status: ReloadStatus, loadSeconds: number): void;
  onDisposeError(err: unknown): void;
}

/** Whether a reload started, and the status of the one that runs now. */
export interface ReloadStart {
  started: boolean;
  status: ReloadStatus;
}

/** What the admin endpoints and SIGHUP need: start reloads and report them, per model. */
export interface ReloadControl {
  /**
   * Reloads `model` (the default one when absent). With a single model served, a name that is
   * not served switches the slot to that model instead; with several, it is MODEL_NOT_FOUND
   * (undefined here).
   */
  start(model: string | undefined, trigger: ReloadTrigger): ReloadStart | undefined;
  status(model?: string): ReloadStatus | undefined;
  names(): string[];
}

/**
 * Every served model, each in its own slot with its own reloader, so one model's reload (or
 * failure) never touches another's requests. Serves as the HTTP layer's DetectorHost.
 */
export class ServedModels implements DetectorHost, ReloadControl {
  private served: ServedModel[];
  private attached: ServedModelsHandlers | undefined;
  private reloadsClosed = false;

  /** `models`: the names to serve, the default first. Nothing loads before `attach`. */
  constructor(models: readonly string[]) {
    this.served = models.map((configured) => this.create(configured, 'config'));
  }

  private create(configured: string, origin: ServedModel['origin']): ServedModel {
    const slot = new DetectorSlot((err) => this.handlers().onDisposeError(err));
    const model: ServedModel = {
      configured,
      origin,
      slot,
      reloader: new Reloader({
        slot,
        load: (name) => this.handlers().load(name),
        onOutcome: (outcome, status, seconds) => this.handlers().onOutcome(model, outcome, status, seconds),
      }),
      name: origin === 'repository' ? () => configured : () => slot.detector()?.info.name ?? configured,
    };
    return model;
  }

  /**
   * Serves one more model, loaded through the repository: listed (as loading) from now on, last.
   * Its load is started by the caller, with `start`.
   */
  add(name: string): ServedModel {
    if (this.find(name)) throw new Error(`ServedModels: ${name} is served already`);
    // Its reloader would be open, and what it built would serve after the models retired.
    if (this.reloadsClosed) throw new Error(`ServedModels: ${name} cannot be added once reloads are closed`);
    const model = this.create(name, 'repository');
    this.served = [...this.served, model];
    return model;
  }

  /**
   * Stops serving `model`: it is unlisted at once, so a new request for it is a 404, while the
   * requests that hold its detector finish on it; it is disposed when the last one is done. A
   * load still running disposes what it builds. False when no such model is served.
   */
  remove(model: ServedModel): boolean {
    if (!this.served.includes(model)) return false;
    this.served = this.served.filter((m) => m !== model);
    model.reloader.close();
    model.slot.swap(undefined);
    return true;
  }

  /**
   * Separate from the constructor because the server's handlers log and count through the app,
   * and the app cannot be built without these models to serve.
   */
  attach(handlers: ServedModelsHandlers): this {
    this.attached = handlers;
    return this;
  }

  names(): string[] {
    return this.served.map((m) => m.name());
  }

  /** The served model by name, or the default one. */
  find(model?: string): ServedModel | undefined {
    return model === undefined ? this.served[0] : this.served.find((m) => m.name() === model);
  }

  all(): readonly ServedModel[] {
    return this.served;
  }

  detector(model?: string): Detector | undefined {
    return this.find(model)?.slot.detector();
  }

  acquire(model?: string): DetectorLease | undefined {
    return this.find(model)?.slot.acquire();
  }

  lastError(model?: string): string | undefined {
    return this.find(model)?.loadError;
  }

  start(model: string | undefined, trigger: ReloadTrigger): ReloadStart | undefined {
    // Fails here, where the caller is, rather than inside the background load.
    this.handlers();
    // A model loaded through the repository is always its own name: it never switches to another.
    const sole = this.served.length === 1 && this.served[0].origin === 'config' ? this.served[0] : undefined;
    const target = this.find(model) ?? sole;
    if (!target) return undefined;
    const started = target.reloader.start(model ?? target.name(), trigger);
    return { started, status: target.reloader.status() };
  }

  status(model?: string): ReloadStatus | undefined {
    return this.find(model)?.reloader.status();
  }

  /** No reload starts from now on; one running disposes what it built. */
  closeReloads(): void {
    this.reloadsClosed = true;
    for (const m of this.served) m.reloader.close();
  }

  /** Whether reloads are closed (the server is shutting down): no model is added then. */
  get closed(): boolean {
    return this.reloadsClosed;
  }

  /** Retires every detector; each is disposed once its last request is done. */
  retireAll(): void {
    for (const m of this.served) m.slot.swap(undefined);
  }

  private handlers(): ServedModelsHandlers {
    if (!this.attached) throw new Error('ServedModels: attach() its handlers before the first load');
    return this.attached;
  }
}
