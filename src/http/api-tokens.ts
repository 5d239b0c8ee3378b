import { readFile } from 'node:fs/promises';
import { parseTokens } from '../config.js';
import { OodError } from '../errors.js';

/** The tokens of OOD_API_TOKENS plus those of the file OOD_API_TOKENS_FILE names, if any. */
export async function loadApiTokens(inline: string[], file: string | undefined): Promise<string[]> {
  if (file === undefined) return inline;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new OodError('CONFIG_INVALID', `OOD_API_TOKENS_FILE=${file}: ${(err as Error).message}`, { cause: err });
  }
  const fromFile = parseTokens(text);
  if (fromFile.length === 0) throw new OodError('CONFIG_INVALID', `OOD_API_TOKENS_FILE=${file} holds no token`);
  return [...inline, ...fromFile];
}
