import { z } from 'zod';

/** The tokenizer's file in a model folder: a Hugging Face `tokenizer.json`, checksummed with the rest. */
export const TOKENIZER_FILE = 'tokenizer.json';

/** The fields of an encoding that a text model's inputs take, by their usual input names. */
export const ENCODING_FIELDS = ['input_ids', 'attention_mask', 'token_type_ids'] as const;
export type EncodingField = (typeof ENCODING_FIELDS)[number];

/**
 * `text` in a model manifest: how a string becomes the model's inputs. Clients send text; the
 * service tokenizes, truncates and pads it to `max_length` tokens and feeds each field of the
 * encoding to the input it names.
 */
export const TextSettingsSchema = z.object({
  /** Tokens per text: shorter texts are padded to it, longer ones truncated. */
  max_length: z.number().int().positive().max(100_000),
  /** The model input that takes each field of the encoding; input_ids is required. */
  fields: z
    .object({ input_ids: z.string().min(1), attention_mask: z.string().min(1).optional(), token_type_ids: z.string().min(1).optional() })
    .strict(),
  /** Longest text accepted, in UTF-16 code units: tokenizing costs time in proportion. */
  max_chars: z.number().int().positive().max(1_000_000).default(20_000),
});
export type TextSettings = z.output<typeof TextSettingsSchema>;
