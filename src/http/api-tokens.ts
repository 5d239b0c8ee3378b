import { readFile } from 'node:fs/promises';
import { OodError } from '../errors.js';

/** Tokens are separated by commas or new lines; blanks and surrounding spaces are dropped. */
export function parseTokens(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
}

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
