import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ModelInput } from '../../src/model/model-inputs.js';
import { TextTokenizer, textSettingsFor } from '../../src/model/text/text-tokenizer.js';
import { isOodError } from '../fixtures/assertions.js';
import { tokenizerJson, WORDS } from '../fixtures/text-model.js';

const T = 5;
const input = (name: string, length = T): ModelInput => ({ name, dtype: 'int64', shape: [length] });
const THREE = [input('input_ids'), input('attention_mask'), input('token_type_ids')];
const SETTINGS = { max_length: T, fields: { input_ids: 'input_ids', attention_mask: 'attention_mask', token_type_ids: 'token_type_ids' }, max_chars: 200 };
const bytes = (json: object) => Buffer.from(JSON.stringify(json));
const id = (word: string) => WORDS.indexOf(word) + 2;

/** The same vocabulary with [CLS] and [SEP] and BERT's template: [CLS] text [SEP]. */
function bertStyle(): object {
  const base = tokenizerJson(T) as { model: { vocab: Record<string, number> }; added_tokens: object[] };
  const cls = WORDS.length + 2;
  const sep = cls + 1;
  const special = (i: number, content: string) => ({ id: i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    ...base,
    added_tokens: [...base.added_tokens, special(cls, '[CLS]'), special(sep, '[SEP]')],
    model: { ...base.model, vocab: { ...base.model.vocab, '[CLS]': cls, '[SEP]': sep } },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '[CLS]': { id: '[CLS]', ids: [cls], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [sep], tokens: ['[SEP]'] } },
    },
  };
}

describe('TextTokenizer', () => {
  it('pads, masks, maps unknown words to [UNK] and cuts long texts, in the packed layout of the inputs', () => {
    const tokenizer = TextTokenizer.create(bytes(tokenizerJson(T)), SETTINGS, THREE, 'tokenizer.json');
    const rows = tokenizer.encode(['Alpha zulu bravo', 'alpha bravo charlie delta echo foxtrot golf']);
    assert.deepEqual(Array.from(rows.subarray(0, 15)), [id('alpha'), 1, id('bravo'), 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(rows.subarray(15, 20)), ['alpha', 'bravo', 'charlie', 'delta', 'echo'].map(id));
    assert.equal(tokenizer.decode(rows.subarray(0, 15)), 'alpha [UNK] bravo');
  });

  it('keeps the [SEP] a template adds when it cuts a text', () => {
    const tokenizer = TextTokenizer.create(bytes(bertStyle()), SETTINGS, THREE, 'tokenizer.json');
    const cls = WORDS.length + 2;
    const row = tokenizer.encode(['alpha bravo charlie delta echo'], 'texts');
    assert.deepEqual(Array.from(row.subarray(0, T)), [cls, id('alpha'), id('bravo'), id('charlie'), cls + 1]);
    assert.deepEqual(Array.from(tokenizer.encode(['alpha']).subarray(0, T)), [cls, id('alpha'), cls + 1, 0, 0]);
  });

  it('refuses empty, oversized and malformed text, naming the path', () => {
    const tokenizer = TextTokenizer.create(bytes(tokenizerJson(T)), SETTINGS, THREE, 'tokenizer.json');
    assert.throws(() => tokenizer.encode(['alpha', ' '], 'texts'), isOodError('INVALID_INSTANCE', 'texts[1] is empty'));
    assert.throws(() => tokenizer.encode(['a'.repeat(201)]), isOodError('INVALID_INSTANCE', 'instances[0] is 201 characters long; at most 200'));
    assert.throws(() => tokenizer.encode(['\udc00 alpha']), isOodError('INVALID_INSTANCE', 'not valid Unicode'));
    assert.doesNotThrow(() => tokenizer.encode(['\ud83d\ude00 emoji']));
  });

  it('is refused when it cannot fill the model\'s inputs', () => {
    assert.throws(() => TextTokenizer.create(bytes(tokenizerJson(T)), SETTINGS, [...THREE, input('pixel_values')], 'tok.json'), isOodError('MODEL_INVALID', 'tok.json', '"pixel_values"'));
    assert.throws(() => TextTokenizer.create(bytes(tokenizerJson(T)), SETTINGS, [input('input_ids', 7), input('attention_mask'), input('token_type_ids')], 'tok.json'), isOodError('MODEL_INVALID', 'int64 [7]'));
    assert.throws(() => TextTokenizer.create(Buffer.from('{"not": "a tokenizer"}'), SETTINGS, THREE, 'tok.json'), isOodError('MODEL_INVALID', 'not a Hugging Face tokenizer.json'));
    assert.throws(() => textSettingsFor([input('input_ids'), input('pixel_values')], tokenizerJson(T), 'tok.json'), isOodError('CONFIG_INVALID', '"pixel_values" is none of'));
    assert.deepEqual(textSettingsFor([input('input_ids', 9)], tokenizerJson(T), 'tok.json').max_length, 9);
  });
});
