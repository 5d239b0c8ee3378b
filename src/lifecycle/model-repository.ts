import { OodError } from '../errors.js';
import type { ModelInfo } from '../detector/types.js';
import type { ServedModel, ServedModels } from './served-models.js';

const SHUTTING_DOWN = () => new OodError('NOT_READY', 'The server is shutting down: no model loads now');

export interface ModelRepositoryOptions {
  /** Throws, naming the path, when the repository holds no loadable bundle of that name. */
  locate(name: string): Promise<unknown>;
}

/**
 * The Open Inference Protocol's repository extension over the served models: a model is loaded
 * by name, while the others keep serving, and unloaded by name. A load answers once the model
 * serves (or has failed), as Triton's does, since the caller (Seldon's agent) routes traffic to
 * the model as soon as the call returns. A load of a model that serves answers at once: Seldon's
 * agent asks for one whenever an inference call comes back NOT_FOUND or UNAVAILABLE (a model
 * under load shedding, say), so it must not rebuild anything; a new version comes under a new
 * name, and SIGHUP or POST /admin/reload reads a served model's folder again. A load of a model
 * still loading waits for that load instead of starting another.
 */
export class ModelRepository {
  private closed = false;
  private readonly closing: Promise<void>;
  private announceClose: () => void = () => {};
  /** The models unloaded while a load of theirs ran, so that load's callers are told so. */
  private readonly unloaded = new WeakSet<ServedModel>();
  /** By name, the end of a build still running for an unloaded model: a new load waits for it, so two never run. */
  private readonly retiring = new Map<string, Promise<void>>();

  constructor(
    private readonly models: ServedModels,
    private readonly opts: ModelRepositoryOptions,
  ) {
    this.closing = new Promise((resolve) => {
      this.announceClose = resolve;
    });
  }

  /**
   * No loads from now on, and the calls waiting on one are answered at once: a cold build can
   * take minutes, and the shutdown's drain would otherwise wait on it, past its bound.
   */
  close(): void {
    this.closed = true;
    this.announceClose();
  }

  /** Serves `name` from the repository, and returns what now serves; throws why it could not. */
  async load(name: string): Promise<ModelInfo> {
    if (this.closed) throw SHUTTING_DOWN();
    // A model that serves answers at once, even while a reload (SIGHUP) replaces it.
    const serving = this.servingInfo(name);
    if (serving) return serving;
    const served = this.models.find(name) ?? (await this.added(name));
    // Another call's load may have finished while this one read the folder.
    const servedNow = this.servingInfo(name);
    if (servedNow) return servedNow;
    if (!served.reloader.busy && !served.reloader.start(name, 'repository')) {
      this.dropUnserved(served);
      throw SHUTTING_DOWN();
    }
    const abandoned = await Promise.race([served.reloader.settled().then(() => false), this.closing.then(() => true)]);
    if (abandoned) throw SHUTTING_DOWN();
    return this.outcome(served, name);
  }

  private servingInfo(name: string): ModelInfo | undefined {
    return this.models.find(name)?.slot.detector()?.info;
  }

  /** A new entry for `name`, once its bundle is found; one that another call added meanwhile is joined. */
  private async added(name: string): Promise<ServedModel> {
    await this.retiring.get(name);
    // A bundle that is there but broken is the load's failure, its message sent to the caller.
    await this.opts.locate(name).catch((err: unknown) => {
      throw err instanceof OodError && err.statusCode >= 500 ? new OodError('MODEL_LOAD_FAILED', `The model ${name} cannot be loaded: ${err.message}`) : err;
    });
    // The shutdown may have begun while the folder was read: nothing may be added after it.
    if (this.closed || this.models.closed) throw SHUTTING_DOWN();
    return this.models.find(name) ?? this.models.add(name);
  }

  /** What a finished load leaves: the detector that serves, or why there is none. */
  private outcome(served: ServedModel, name: string): ModelInfo {
    // A build that ended after the shutdown began was thrown away: that is the shutdown's doing.
    if (this.closed || this.models.closed) throw SHUTTING_DOWN();
    const listed = this.models.all().includes(served);
    const detector = served.slot.detector();
    // A reload started elsewhere (SIGHUP) may have failed while the previous detector serves on.
    if (listed && detector) return detector.info;
    if (this.unloaded.has(served)) throw new OodError('MODEL_LOAD_FAILED', `The model ${name} was unloaded while it loaded`);
    this.dropUnserved(served);
    const status = served.reloader.status();
    throw new OodError('MODEL_LOAD_FAILED', `The model ${name} failed to load: ${status.error ?? 'no detector was built'}`);
  }

  /**
   * Stops serving `name`: new requests for it are a 404 from now on; those under way finish on
   * its detector, which is freed after the last. Returns what served, if anything had loaded.
   */
  unload(name: string): ModelInfo | undefined {
    const served = this.models.find(name);
    if (!served) throw new OodError('MODEL_NOT_FOUND', `No model "${name}" is served here; the served models are ${this.models.names().join(', ') || 'none'}`);
    const info = served.slot.detector()?.info;
    this.unloaded.add(served);
    if (served.reloader.busy) {
      const settled = served.reloader.settled().finally(() => {
        if (this.retiring.get(name) === settled) this.retiring.delete(name);
      });
      this.retiring.set(name, settled);
    }
    this.models.remove(served);
    return info;
  }

  private dropUnserved(served: ServedModel): void {
    if (!served.slot.detector()) this.models.remove(served);
  }
}
