import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { OodError } from '../errors.js';
import type { ModelManifest, StoredManifest } from './manifest.js';

/**
 * How a model folder is written, whatever runs it: the runtime's files (model/runtimes.ts) and
 * manifest.json, which names the runtime and holds a digest of every file. Reading it back is
 * model-store.ts.
 */
export const MANIFEST_FILE = 'manifest.json';

/** What manifest.json records of an artifact, and what loading checks it against. */
export function digestOf(bytes: Uint8Array) {
  return { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.byteLength };
}

export function parseJson(buf: Buffer, path: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new OodError('MODEL_INVALID', `${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Writes a model folder: the runtime's files first, the manifest with their digests last, so a
 * crash in between leaves a manifest whose digests fail, never a silent mix.
 */
export async function writeModelFolder(dir: string, files: Record<string, Uint8Array>, manifest: ModelManifest): Promise<void> {
  const stored: StoredManifest = {
    ...manifest,
    files: Object.fromEntries(Object.entries(files).map(([file, bytes]) => [file, digestOf(bytes)])),
  };
  for (const [file, bytes] of Object.entries(files)) await writeFileAtomic(join(dir, file), bytes);
  await writeFileAtomic(join(dir, MANIFEST_FILE), `${JSON.stringify(stored, null, 2)}\n`);
}
