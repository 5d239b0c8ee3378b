import { z } from 'zod';
import type { ModelInfo } from '../../detector/types.js';
import { OodError } from '../../errors.js';

/** A request that names a version gets that version or a 404: one version of a model is served at a time. */
export function checkVersion(info: Pick<ModelInfo, 'name' | 'version'>, version: string | undefined): void {
  if (version !== undefined && version !== info.version) {
    throw new OodError('MODEL_NOT_FOUND', `Model ${info.name} serves version ${info.version}, not ${version}`);
  }
}

const NameParams = z.object({ name: z.string().min(1) });
const VersionParams = NameParams.extend({ version: z.string().min(1) });

export interface ModelPath {
  /** `${prefix}/:name`, or `${prefix}/:name/versions/:version`. */
  path: string;
  params: typeof NameParams | typeof VersionParams;
  /** The version the path names, if it names one. */
  versionOf(params: object): string | undefined;
}

/** Both protocols address a model as `{prefix}/{name}[/versions/{version}]`: the two forms. */
export function modelPaths(prefix: string): ModelPath[] {
  return [
    { path: `${prefix}/:name`, params: NameParams, versionOf: () => undefined },
    { path: `${prefix}/:name/versions/:version`, params: VersionParams, versionOf: (p) => (p as { version: string }).version },
  ];
}
