import { Tokenizer } from '@huggingface/tokenizers';
import { z } from 'zod';
import { OodError } from '../../errors.js';
import { inputLayout, type InputLayout, type ModelInput } from '../model-inputs.js';
import type { TextCodec } from './text-codec.js';
import { ENCODING_FIELDS, TextSettingsSchema, type EncodingField, type TextSettings } from './text-settings.js';

/**
 * How many tokens the post-processor's template puts after a text, found by encoding one word
 * with and without it: BERT's [CLS] x [SEP] gives 1, a tokenizer without a template 0.
 */
function templateSuffix(tokenizer: Tokenizer): number {
  const plain: (number | undefined)[] = tokenizer.encode('a', { add_special_tokens: false }).ids;
  const full: (number | undefined)[] = tokenizer.encode('a', { add_special_tokens: true }).ids;
  for (let start = 0; start + plain.length <= full.length; start++) {
    if (plain.every((id, i) => id === full[start + i])) return full.length - start - plain.length;
  }
  return 0;
}

/** Half of a surrogate pair without its other half: text that is not valid Unicode. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The tokenizer.json fields read here besides what the library reads. */
const TokenizerFileSchema = z.looseObject({
  model: z.looseObject({ type: z.string().optional(), unk_token: z.string().nullish() }),
  padding: z.looseObject({ pad_id: z.number().int().nonnegative().optional(), pad_token: z.string().optional() }).nullish(),
  truncation: z.looseObject({ max_length: z.number().int().positive().optional() }).nullish(),
});

/**
 * Which settings a tokenizer file and a model's inputs give, for onboarding: inputs named as
 * the encoding's fields take them, and the sequence length is the inputs' (fixed in the file or
 * given) or else the tokenizer's own truncation length.
 */
export function textSettingsFor(inputs: readonly ModelInput[], tokenizerJson: unknown, file: string): TextSettings {
  const fields: Partial<Record<EncodingField, string>> = {};
  for (const input of inputs) {
    const field = ENCODING_FIELDS.find((f) => f === input.name);
    if (!field) {
      throw new OodError('CONFIG_INVALID', `the model's input "${input.name}" is none of ${ENCODING_FIELDS.join(', ')}: a tokenizer cannot fill it`);
    }
    fields[field] = input.name;
  }
  if (!fields.input_ids) throw new OodError('CONFIG_INVALID', `the model has no input_ids input (its inputs: ${inputs.map((i) => i.name).join(', ')}); a tokenizer fills input_ids`);
  const parsed = TokenizerFileSchema.safeParse(tokenizerJson);
  const own = parsed.success ? parsed.data.truncation?.max_length : undefined;
  const length = inputs[0].shape.length === 1 ? inputs[0].shape[0] : undefined;
  const maxLength = length ?? own;
  if (!maxLength) throw new OodError('CONFIG_INVALID', `${file} sets no truncation length and the model's inputs have none: give --input-shape input_ids=128,...`);
  return TextSettingsSchema.parse({ max_length: maxLength, fields });
}

/**
 * A tokenizer bound to a model's inputs: strings in, packed rows out (model-inputs.ts). The
 * library encodes without padding or truncation, and gives no id for a word outside a WordLevel
 * vocabulary, so those three are done here: unknown words become the tokenizer's unknown token,
 * texts are cut to `max_length` keeping a final special token (a [SEP] or </s> the template
 * added), and padding fills with the pad id and a zero mask.
 */
export class TextTokenizer implements TextCodec {
  private readonly tokenizer: Tokenizer;
  private readonly layout: InputLayout;
  private readonly slots: { field: EncodingField; offset: number }[];
  private readonly padId: number;
  private readonly unkId: number | undefined;
  /** Tokens the tokenizer's template adds after the text (a [SEP], a </s>), kept when a text is cut. */
  private readonly suffix: number;
  readonly settings: TextSettings;

  private constructor(tokenizer: Tokenizer, settings: TextSettings, inputs: readonly ModelInput[], padId: number, unkId: number | undefined) {
    this.tokenizer = tokenizer;
    this.settings = settings;
    this.layout = inputLayout(inputs);
    this.padId = padId;
    this.unkId = unkId;
    this.suffix = templateSuffix(tokenizer);
    this.slots = [];
    for (const field of ENCODING_FIELDS) {
      const name = settings.fields[field];
      if (name === undefined) continue;
      const index = inputs.findIndex((i) => i.name === name);
      this.slots.push({ field, offset: this.layout.offsets[index] });
    }
  }

  /** `bytes` is tokenizer.json; `file` names it in errors. Checks that every input is filled and of max_length tokens. */
  static create(bytes: Uint8Array, settings: TextSettings, inputs: readonly ModelInput[], file: string): TextTokenizer {
    const invalid = (why: string, cause?: unknown) => new OodError('MODEL_INVALID', `${file} ${why}`, cause === undefined ? undefined : { cause });
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch (err) {
      throw invalid(`is not valid JSON: ${(err as Error).message}`, err);
    }
    const parsed = TokenizerFileSchema.safeParse(json);
    if (!parsed.success) throw invalid('is not a Hugging Face tokenizer.json (it has no "model")');
    const filled = new Set(Object.values(settings.fields));
    for (const input of inputs) {
      if (!filled.has(input.name)) throw invalid(`fills ${[...filled].join(', ')}; the model also takes "${input.name}", which text cannot fill`);
      if (input.shape.length !== 1 || input.shape[0] !== settings.max_length || (input.dtype !== 'int64' && input.dtype !== 'int32')) {
        throw invalid(`gives ${settings.max_length} integer tokens per text; input "${input.name}" is ${input.dtype} [${input.shape.join(', ')}]`);
      }
    }
    for (const name of filled) {
      if (!inputs.some((i) => i.name === name)) throw invalid(`fills "${name}", which is not an input of the model`);
    }
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(json as object, {});
    } catch (err) {
      throw invalid(`cannot be read as a tokenizer: ${(err as Error).message}`, err);
    }
    const { model, padding } = parsed.data;
    const padId = padding?.pad_id ?? tokenizer.token_to_id(padding?.pad_token ?? '[PAD]') ?? tokenizer.token_to_id('<pad>') ?? 0;
    const unkId = model.unk_token ? tokenizer.token_to_id(model.unk_token) : undefined;
    return new TextTokenizer(tokenizer, settings, inputs, padId, unkId);
  }

  /** Why `text` cannot be encoded, or undefined. Control characters are left to the tokenizer, as in training. */
  problem(text: string): string | undefined {
    if (text.length > this.settings.max_chars) return `is ${text.length} characters long; at most ${this.settings.max_chars} are accepted`;
    if (LONE_SURROGATE.test(text)) return 'is not valid Unicode (it holds a lone surrogate)';
    if (text.trim().length === 0) return 'is empty: send some text';
    return undefined;
  }

  /** The token ids of one text, unknown words mapped and cut to max_length. Throws INVALID_INSTANCE naming `path`. */
  ids(text: string, path: string): number[] {
    const problem = this.problem(text);
    if (problem !== undefined) throw new OodError('INVALID_INSTANCE', `${path} ${problem}`);
    // The typings say number[]; a word outside a WordLevel vocabulary comes back as undefined.
    const raw: (number | undefined)[] = this.tokenizer.encode(text).ids;
    const ids = raw.map((id) => id ?? this.unkId);
    if (ids.some((id) => id === undefined)) {
      throw new OodError('INVALID_INSTANCE', `${path} holds words the tokenizer has no id for, and it names no unknown token`);
    }
    const max = this.settings.max_length;
    if (ids.length <= max) return ids as number[];
    const keep = Math.min(this.suffix, max - 1);
    return [...ids.slice(0, max - keep), ...ids.slice(ids.length - keep)] as number[];
  }

  /** Texts as packed rows, ready for the model; `at` names the list in errors (`instances`). */
  encode(texts: readonly string[], at = 'instances'): Float32Array {
    const out = new Float32Array(texts.length * this.layout.width);
    texts.forEach((text, row) => this.encodeInto(text, out, row, `${at}[${row}]`));
    return out;
  }

  /** One text into row `row` of `out`. */
  encodeInto(text: string, out: Float32Array, row: number, path: string): void {
    const ids = this.ids(text, path);
    const base = row * this.layout.width;
    for (const { field, offset } of this.slots) {
      const start = base + offset;
      if (field === 'input_ids') {
        out.fill(this.padId, start, start + this.settings.max_length);
        out.set(ids, start);
      } else if (field === 'attention_mask') {
        out.fill(0, start, start + this.settings.max_length);
        out.fill(1, start, start + ids.length);
      } else {
        out.fill(0, start, start + this.settings.max_length);
      }
    }
  }

  /** A packed row back as text, for the review page: its tokens up to the padding, [UNK] and a template's special tokens included, as the model saw them. */
  decode(row: ArrayLike<number>): string {
    const ids = this.slots.find((s) => s.field === 'input_ids') as { offset: number };
    const mask = this.slots.find((s) => s.field === 'attention_mask');
    const tokens: number[] = [];
    for (let t = 0; t < this.settings.max_length; t++) {
      if (mask ? row[mask.offset + t] === 0 : row[ids.offset + t] === this.padId) break;
      tokens.push(row[ids.offset + t]);
    }
    return this.tokenizer.decode(tokens, { skip_special_tokens: false });
  }
}
