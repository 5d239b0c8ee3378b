import { readFile } from 'node:fs/promises';
import { OodError } from '../errors.js';
import type { ModelInput } from '../model/model-inputs.js';
import type { GivenShapes } from '../model/onnx/onnx-inputs.js';
import { TextTokenizer, textSettingsFor } from '../model/text/text-tokenizer.js';
import { ENCODING_FIELDS, type TextSettings } from '../model/text/text-settings.js';

/** A tokenizer.json a user brings with a text model, read once. */
export interface TokenizerFile {
  file: string;
  bytes: Buffer;
  json: unknown;
}

export async function readTokenizerFile(file: string): Promise<TokenizerFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new OodError('DATA_SOURCE_MISSING', `tokenizer file not found: ${file}`, { cause: err });
  }
  try {
    return { file, bytes, json: JSON.parse(bytes.toString('utf8')) };
  } catch (err) {
    throw new OodError('CONFIG_INVALID', `${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Shapes for a model whose file leaves the sequence length free: every input an encoding fills
 * takes the tokenizer's own truncation length. Undefined when the tokenizer sets none.
 */
export function tokenizerShapes(tokenizer: TokenizerFile): GivenShapes | undefined {
  const length = (tokenizer.json as { truncation?: { max_length?: unknown } } | null)?.truncation?.max_length;
  if (typeof length !== 'number' || !Number.isInteger(length) || length < 1) return undefined;
  return Object.fromEntries(ENCODING_FIELDS.map((field) => [field, [length]]));
}

/** The text settings and the tokenizer bound to the model's inputs, refused with the reason when they do not fit. */
export function textModel(tokenizer: TokenizerFile, inputs: readonly ModelInput[]): { settings: TextSettings; codec: TextTokenizer } {
  const settings = textSettingsFor(inputs, tokenizer.json, tokenizer.file);
  try {
    return { settings, codec: TextTokenizer.create(tokenizer.bytes, settings, inputs, tokenizer.file) };
  } catch (err) {
    // Said of the model folder's copy when loading; here it is the user's file that does not fit.
    if (err instanceof OodError) throw new OodError('CONFIG_INVALID', err.message, { cause: err });
    throw err;
  }
}
