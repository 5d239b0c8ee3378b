import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OodError } from '../../src/errors.js';
import { decodeInstances, type InstanceModel } from '../../src/http/instances.js';
import { columnarInstances } from '../../src/http/protocols/tf-serving.js';

const single = (shape: number[]): InstanceModel => ({ name: 'm', input_shape: shape, inputs: [{ name: 'x', dtype: 'float32', shape }] });
const TOKENS: InstanceModel = {
  name: 'tokens',
  input_shape: [6],
  inputs: [
    { name: 'input_ids', dtype: 'int64', shape: [3] },
    { name: 'attention_mask', dtype: 'bool', shape: [3] },
  ],
};
const invalid = (pattern: RegExp) => (err: unknown) => err instanceof OodError && err.code === 'INVALID_INSTANCE' && pattern.test(err.message);

describe('decodeInstances', () => {
  it('flattens nested instances row-major into one buffer', async () => {
    const batch = await decodeInstances([[[1, 2, 3], [4, 5, 6]], [7, 8, 9, 10, 11, 12]], single([2, 3]));
    assert.deepEqual(Array.from(batch), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('accepts any rectangular nesting of the right size, and an instance keyed by the one input\'s name', async () => {
    assert.deepEqual(Array.from(await decodeInstances([[[[1], [2]], [[3], [4]]]], single([4]))), [1, 2, 3, 4]);
    assert.deepEqual(Array.from(await decodeInstances([{ x: [1, 2, 3, 4] }], single([4]))), [1, 2, 3, 4]);
  });

  it('rejects a ragged instance even when its size happens to match', async () => {
    await assert.rejects(decodeInstances([[[1, 2], [3, 4, 5]]], single([4])), invalid(/ragged/));
  });

  it('rejects numbers and arrays mixed at one level', async () => {
    await assert.rejects(decodeInstances([[[1, 2], 3]], single([4])), /instances\[0\]\[1\] should be an array of 2 elements/);
  });

  it('packs a model\'s several inputs, each checked against its own type, in the model\'s order', async () => {
    const batch = await decodeInstances(
      [
        { attention_mask: [true, true, false], input_ids: [5, 9, 0] },
        { input_ids: [[1], [2], [3]], attention_mask: [1, 1, 1] },
      ],
      TOKENS,
    );
    assert.deepEqual(Array.from(batch), [5, 9, 0, 1, 1, 0, 1, 2, 3, 1, 1, 1]);
    const cases: [unknown, RegExp][] = [
      [[1, 2, 3, 1, 1, 1], /instances\[0\] must be an object keyed by input name \(input_ids, attention_mask\), got an array/],
      [{ input_ids: [1, 2, 3] }, /instances\[0\] lacks input "attention_mask"/],
      [{ input_ids: [1, 2, 3], attention_mask: [1, 1, 1], token_type_ids: [0, 0, 0] }, /names "token_type_ids", which model tokens does not take/],
      [{ input_ids: [1, 2.5, 3], attention_mask: [1, 1, 1] }, /instances\[0\]\.input_ids\[1\] must be a whole number/],
      [{ input_ids: [1, 2, 3], attention_mask: [1, 2, 1] }, /instances\[0\]\.attention_mask\[1\] must be true, false, 0 or 1/],
      [{ input_ids: [1, 2], attention_mask: [1, 1, 1] }, /instances\[0\]\.input_ids has 2 values; the model expects 3 values \(input_ids: int64 \[3\]\)/],
      [{ input_ids: { b64: 'AAAA' }, attention_mask: [1, 1, 1] }, /instances\[0\]\.input_ids is an image .* takes no images/],
    ];
    for (const [instance, message] of cases) await assert.rejects(decodeInstances([instance], TOKENS), invalid(message), String(message));
    // A client's own names reach the message clipped: messages are logged, request bodies are not.
    await assert.rejects(decodeInstances([{ ['k'.repeat(100_000)]: [1] }], TOKENS), (err: unknown) => err instanceof OodError && err.message.length < 300);
  });
});

describe('TF Serving columnar inputs', () => {
  it('turns a list, or one named list per input, into the row format\'s instances', () => {
    assert.deepEqual(columnarInstances([[1], [2]], single([1])), [[1], [2]]);
    assert.deepEqual(columnarInstances({ anything: [[1], [2]] }, single([1])), [[1], [2]]);
    assert.deepEqual(columnarInstances({ input_ids: [[1, 2, 3], [4, 5, 6]], attention_mask: [[1, 1, 1], [1, 0, 0]] }, TOKENS), [
      { input_ids: [1, 2, 3], attention_mask: [1, 1, 1] },
      { input_ids: [4, 5, 6], attention_mask: [1, 0, 0] },
    ]);
  });

  it('refuses columns that are missing, extra, not lists, or of different lengths', () => {
    assert.throws(() => columnarInstances([[1, 2, 3, 1, 1, 1]], TOKENS), invalid(/must be an object naming every input/));
    assert.throws(() => columnarInstances({ input_ids: [[1, 2, 3]] }, TOKENS), invalid(/inputs lacks attention_mask/));
    assert.throws(() => columnarInstances({ input_ids: [[1, 2, 3]], mask: [[1, 1, 1]] }, TOKENS), invalid(/names "mask", which model tokens does not take/));
    assert.throws(() => columnarInstances({ input_ids: [[1, 2, 3]], attention_mask: 7 }, TOKENS), invalid(/inputs.attention_mask must be a list/));
    assert.throws(() => columnarInstances({ input_ids: [[1, 2, 3]], attention_mask: [[1, 1, 1], [1, 1, 1]] }, TOKENS), invalid(/holds 2 instances, inputs.input_ids 1/));
  });
});
