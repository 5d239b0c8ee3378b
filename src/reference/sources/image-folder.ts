import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { OodError } from '../../errors.js';
import { selectRows } from '../../math/matrix.js';
import { decodeImage, ImagePreprocessingSchema, preprocessedShape, type ImagePreprocessing } from '../../model/image-input.js';
import { allRows, SourceDigest, takeLabels, type SourceData, type SourcePool } from './labeled-data.js';
import { dataPath } from './source-fields.js';
import type { SourceContext, SourceReader } from './source-reader.js';

export const ImageFolderSourceSchema = z.strictObject({
  kind: z.literal('image-folder'),
  /** One subfolder per class, named as in the manifest's labels, holding .png/.jpg/.jpeg files. */
  dir: dataPath,
  test_dir: dataPath.optional(),
  preprocessing: ImagePreprocessingSchema,
});
export type ImageFolderSource = z.infer<typeof ImageFolderSourceSchema>;

/** Folders of PNG/JPEG images, one per class, decoded as the HTTP layer decodes uploads. */
export const imageFolderReader: SourceReader<typeof ImageFolderSourceSchema> = {
  kind: 'image-folder',
  schema: ImageFolderSourceSchema,
  hasTestPool: (source) => Boolean(source.test_dir),
  read: (source, context) => readImageFolderSource(source, context),
};

/** Enough to keep the CPU busy while files are read, without holding many decoded images at once. */
const DECODE_CONCURRENCY = 8;
const IMAGE_EXTENSION = /\.(png|jpe?g)$/i;

/** One image of a folder, relative path `<class>/<file>`. */
export interface ImageEntry {
  relativePath: string;
  label: number;
}

async function readImageFolderSource(source: ImageFolderSource, context: SourceContext): Promise<SourceData> {
  const cols = preprocessedShape(source.preprocessing).reduce((a, b) => a * b, 1);
  const features = context.inputShape.reduce((a, b) => a * b, 1);
  if (cols !== features) {
    // Checked before decoding thousands of images that loadSource would then refuse.
    throw new OodError(
      'CONFIG_INVALID',
      `${join(context.manifestDir, 'manifest.json')}: source.preprocessing gives [${preprocessedShape(source.preprocessing).join(', ')}] ` +
        `(${cols} values per image) but input_shape [${context.inputShape.join(', ')}] has ${features}`,
    );
  }
  const digest = new SourceDigest();
  const pool = await readImageFolder(resolve(context.manifestDir, source.dir), source.preprocessing, context.labels, digest);
  const testPool =
    source.test_dir === undefined
      ? null
      : await readImageFolder(resolve(context.manifestDir, source.test_dir), source.preprocessing, context.labels, digest);
  return { pool, testPool, digest: digest.hex() };
}

/** Every image under `dir`'s class folders, decoded, in class-index then file-name order. */
export async function readImageFolder(
  dir: string,
  preprocessing: ImagePreprocessing,
  classes: readonly string[],
  digest?: SourceDigest,
): Promise<SourcePool> {
  const entries = await listImages(dir, classes);
  if (entries.length === 0) {
    throw new OodError('DATA_INVALID', `${dir} holds no .png/.jpg/.jpeg images in folders named after the classes (${formatList(classes)})`);
  }
  const cols = preprocessedShape(preprocessing).reduce((a, b) => a * b, 1);
  const data = new Float32Array(entries.length * cols);
  const fileHashes: Buffer[] = new Array<Buffer>(entries.length);
  await forEachLimit(entries.length, DECODE_CONCURRENCY, async (i) => {
    const file = join(dir, entries[i].relativePath);
    const bytes = await readImageFile(file);
    fileHashes[i] = createHash('sha256').update(bytes).digest();
    let values: Float32Array;
    try {
      values = await decodeImage(bytes, preprocessing);
    } catch (err) {
      throw new OodError('DATA_INVALID', `${file}: ${(err as Error).message}`, { cause: err });
    }
    data.set(values, i * cols);
  });
  if (digest) {
    // Files are hashed as they decode, in any order; the digest takes them in list order. The
    // count and each relative path go in too, since the class folder is the label.
    digest.add(dir, Buffer.from(`image-folder\0${entries.length}`));
    entries.forEach((entry, i) => digest.add(entry.relativePath, Buffer.concat([Buffer.from(`${entry.relativePath}\0`), fileHashes[i]])));
  }
  const labels = Int32Array.from(entries, (e) => e.label);
  const x = { data, rows: entries.length, cols };
  return {
    size: entries.length,
    cols,
    labels,
    take: (indices = allRows(entries.length)) => ({ x: selectRows(x, indices), labels: takeLabels(labels, indices) }),
  };
}

/**
 * The images of each class folder, sorted by class index then file name (code-unit order, not
 * locale order, so every machine agrees). Dot-entries (.DS_Store, .ipynb_checkpoints) are skipped.
 */
export async function listImages(dir: string, classes: readonly string[]): Promise<ImageEntry[]> {
  const classIndex = new Map(classes.map((name, index) => [name, index]));
  const folders: { name: string; label: number }[] = [];
  for (const entry of await readDir(dir)) {
    if (entry.name.startsWith('.') || !(await isKind(dir, entry, 'directory'))) continue;
    const label = classIndex.get(entry.name);
    if (label === undefined) {
      throw new OodError(
        'DATA_INVALID',
        `${join(dir, entry.name)} is not named after a class; class folders must be one of ${formatList(classes)}`,
      );
    }
    folders.push({ name: entry.name, label });
  }
  folders.sort((a, b) => a.label - b.label);
  const images: ImageEntry[] = [];
  for (const folder of folders) {
    const files: string[] = [];
    for (const entry of await readDir(join(dir, folder.name))) {
      if (entry.name.startsWith('.') || !IMAGE_EXTENSION.test(entry.name)) continue;
      if (await isKind(join(dir, folder.name), entry, 'file')) files.push(entry.name);
    }
    files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of files) images.push({ relativePath: `${folder.name}/${name}`, label: folder.label });
  }
  return images;
}

async function readDir(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new OodError('DATA_SOURCE_MISSING', `Image folder not found: ${dir}`, { cause: err });
    }
    throw new OodError('DATA_INVALID', `${dir} cannot be listed: ${(err as Error).message}`, { cause: err });
  }
}

/** Follows symbolic links, so a class folder may link to images kept elsewhere. */
async function isKind(dir: string, entry: Dirent, kind: 'file' | 'directory'): Promise<boolean> {
  if (!entry.isSymbolicLink()) return kind === 'file' ? entry.isFile() : entry.isDirectory();
  const target = await stat(join(dir, entry.name)).catch(() => null);
  return target !== null && (kind === 'file' ? target.isFile() : target.isDirectory());
}

async function readImageFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new OodError('DATA_INVALID', `${file} cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

/** Runs task(0..count-1) with at most `limit` in flight; stops starting new ones after a failure. */
async function forEachLimit(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < count) {
      const i = next++;
      try {
        await task(i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

function formatList(names: readonly string[]): string {
  return names.map((n) => JSON.stringify(n)).join(', ');
}
