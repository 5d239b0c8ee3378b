import type { FileHandle } from 'node:fs/promises';
import { OodError } from '../errors.js';

/** `length` bytes at `position`, read whole; `what` names the file kind if it shrinks meanwhile. */
export async function readAt(file: FileHandle, position: number, length: number, what: string): Promise<DataView> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) throw new OodError('CACHE_INVALID', `${what} file shrank while being read`);
    filled += bytesRead;
  }
  return new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
