import { randomBytes } from 'node:crypto';
import { cp, mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A folder built beside its final place and renamed into it only when complete, so a failure
 * at any step leaves nothing under models/ or reference-sets/ (the staging folder starts with a
 * dot, which no model or reference-set name can).
 */
export class StagedFolder {
  /** Holds `<name>/`: the loaders take a root and a name, so the staged copy loads as the real one. */
  readonly root: string;
  readonly dir: string;

  constructor(
    private readonly parent: string,
    private readonly name: string,
  ) {
    this.root = join(parent, `.staging-${name}-${randomBytes(4).toString('hex')}`);
    this.dir = join(this.root, name);
  }

  async create(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  async copyIn(from: string, to: string): Promise<void> {
    await cp(from, join(this.dir, to), { recursive: true, errorOnExist: true, force: false });
  }

  /** Renames the staged folder into place, replacing an existing one only when `replace`. */
  async commit(replace: boolean): Promise<void> {
    const target = join(this.parent, this.name);
    const exists = await stat(target).then(
      () => true,
      () => false,
    );
    if (exists && !replace) throw new Error(`${target} appeared while the model was being added`);
    const trash = `${this.root}-old`;
    if (exists) await rename(target, trash);
    await rename(this.dir, target);
    await rm(this.root, { recursive: true, force: true });
    if (exists) await rm(trash, { recursive: true, force: true });
  }

  async discard(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

export async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
