import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { cp, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Staging folders in use, so a signal handler can remove them before the process ends. */
const active = new Set<string>();

/** Removes every staging folder still in use: for a SIGINT or SIGTERM in the middle of a run. */
export function discardAllStagingSync(): void {
  for (const root of active) rmSync(root, { recursive: true, force: true });
  active.clear();
}

const prefix = (name: string) => `.staging-${name}-`;

/**
 * A folder built beside its final place and renamed into it only when complete, so a failure
 * at any step leaves nothing under models/ or reference-sets/ but hidden staging folders, which
 * are removed on the way out (no model or reference-set name can start with a dot).
 */
export class StagedFolder {
  /** Holds `<name>/`: the loaders take a root and a name, so the staged copy loads as the real one. */
  readonly root: string;
  readonly dir: string;
  readonly target: string;

  constructor(parent: string, name: string) {
    this.root = join(parent, `${prefix(name)}${randomBytes(4).toString('hex')}`);
    this.dir = join(this.root, name);
    this.target = join(parent, name);
  }

  async create(): Promise<void> {
    active.add(this.root);
    await mkdir(this.dir, { recursive: true });
  }

  /** A real copy: symbolic links are followed, so the copy never depends on the originals. */
  async copyIn(from: string, to: string): Promise<void> {
    await cp(from, join(this.dir, to), { recursive: true, errorOnExist: true, force: false, dereference: true });
  }

  async discard(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
    active.delete(this.root);
  }
}

/**
 * Renames every staged folder into place as one step: existing targets (with `replace`) are
 * moved aside first, and if any rename fails, the ones done are undone and the old folders put
 * back, so a model is never left beside another model's reference set.
 */
export async function commitTogether(folders: readonly StagedFolder[], replace: boolean): Promise<void> {
  const moved: { from: string; to: string }[] = [];
  try {
    for (const folder of folders) {
      if (await pathExists(folder.target)) {
        if (!replace) throw new Error(`${folder.target} appeared while the model was being added`);
        const aside = `${folder.root}-replaced`;
        await rename(folder.target, aside);
        moved.push({ from: folder.target, to: aside });
      }
    }
    for (const folder of folders) {
      await rename(folder.dir, folder.target);
      moved.push({ from: folder.dir, to: folder.target });
    }
  } catch (err) {
    // Undone in reverse: the new folders back into staging, then the old ones back into place.
    for (const step of moved.reverse()) await rename(step.to, step.from).catch(() => undefined);
    throw err;
  }
  for (const folder of folders) await rm(`${folder.root}-replaced`, { recursive: true, force: true });
}

/** Staging folders a killed run of the same name left behind (no other run uses that name). */
export async function sweepStale(parent: string, name: string): Promise<void> {
  const entries = await readdir(parent).catch(() => [] as string[]);
  for (const entry of entries) if (entry.startsWith(prefix(name))) await rm(join(parent, entry), { recursive: true, force: true });
}

export async function pathExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
