/**
 * A served model's lifecycle, in one place: loading it (at start-up, on SIGHUP, on POST
 * /admin/reload), leasing its detector to a request, swapping a reloaded one in, and retiring and
 * disposing the old one once its last request is done (docs/architecture.md, "A request, and a
 * reload"). The rest of the service goes through this module only; the HTTP layer asks it for
 * leases and reloads.
 */
export type { DetectorLease } from './detector-slot.js';
export type { DetectorHost } from './detector-host.js';
export { ReloadStatusSchema, type ReloadStatus, type ReloadTrigger } from './reloader.js';
export { ServedModels, type ReloadControl, type ReloadStart, type ServedModel, type ServedModelsHandlers } from './served-models.js';
export { HangupReloads } from './hangup-reloads.js';
export { ModelRepository, type ModelRepositoryOptions } from './model-repository.js';
