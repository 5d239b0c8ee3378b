import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OodError } from '../errors.js';
import { MANIFEST_FILE } from './model-folder.js';
import { NAME_PATTERN } from './manifest.js';

/** The folders of a bundle, as `add-model` writes them under the working directory. */
export const BUNDLE_MODELS = 'models';
export const BUNDLE_REFERENCE_SETS = 'reference-sets';

/** Where one bundle's model and reference set are, for the detector's loader. */
export interface ModelBundle {
  /** The folder read: `<repository>/<name>/<version>/`, or `<repository>/<name>/` without versions. */
  dir: string;
  modelsDir: string;
  referenceSetsDir: string;
  /** The one model folder under `models/`. */
  model: string;
}

/** Absent is an answer; a folder that cannot be read (permissions, I/O) is an error that names it. */
function absentOr<T>(path: string, absent: T): (err: NodeJS.ErrnoException) => T {
  return (err) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return absent;
    throw new OodError('MODEL_INVALID', `${path} cannot be read: ${err.message}`);
  };
}

const isDir = async (path: string) => (await stat(path).catch(absentOr(path, undefined)))?.isDirectory() === true;

/** Folders, and links to folders: a repository may link a bundle's parts rather than copy them. */
async function subfolders(dir: string): Promise<string[]> {
  const names = (await readdir(dir).catch(absentOr(dir, [] as string[]))).filter((name) => !name.startsWith('.'));
  const found = [];
  for (const name of names) if (await isDir(join(dir, name))) found.push(name);
  return found;
}

/**
 * The bundle a repository holds under `name`. Triton's and MLServer's repositories keep each
 * model's versions in numbered folders, and Seldon's agent copies a Model's artefact into
 * `<repository>/<model>_<version>/1/`, so the highest numbered folder is read when there is one,
 * and the model's own folder otherwise. A bundle is a model folder and its reference set, in
 * `models/` and `reference-sets/` as `add-model` writes them (`ood bundle` copies them out).
 * Each failure names the path it looked at.
 */
export async function findBundle(repository: string, name: string): Promise<ModelBundle> {
  if (!NAME_PATTERN.test(name)) throw new OodError('BAD_REQUEST', `model name "${name}" must match ${NAME_PATTERN}`);
  const home = join(repository, name);
  if (!(await isDir(home))) throw new OodError('MODEL_NOT_FOUND', `No model "${name}" in the repository: ${home} is not a folder`);
  const versions = (await subfolders(home)).filter((v) => /^[0-9]+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  return readBundle(versions.length > 0 ? join(home, versions[0]) : home);
}

/** The model and reference-set folders of the bundle in `dir`, checked. */
export async function readBundle(dir: string): Promise<ModelBundle> {
  const modelsDir = join(dir, BUNDLE_MODELS);
  const referenceSetsDir = join(dir, BUNDLE_REFERENCE_SETS);
  const models = [];
  for (const folder of await subfolders(modelsDir)) {
    const manifest = join(modelsDir, folder, MANIFEST_FILE);
    if ((await stat(manifest).catch(absentOr(manifest, undefined)))?.isFile()) models.push(folder);
  }
  if (models.length !== 1) {
    const found = models.length === 0 ? 'none' : models.join(', ');
    throw new OodError('MODEL_INVALID', `${modelsDir} must hold exactly one model folder (with a ${MANIFEST_FILE}); found ${found}`);
  }
  if (!(await isDir(referenceSetsDir))) throw new OodError('MODEL_INVALID', `${referenceSetsDir} is missing: a bundle carries its model's reference set`);
  return { dir, modelsDir, referenceSetsDir, model: models[0] };
}
