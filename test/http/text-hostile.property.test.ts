import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import fc from 'fast-check';
import { pino } from 'pino';
import type { DeepKnnDetector } from '../../src/detector/deep-knn-detector.js';
import { loadDetector } from '../../src/detector/load-detector.js';
import { detectorSettings } from '../../src/detector-settings.js';
import { addModel } from '../../src/onboarding/add-model.js';
import { configIn, onnxModelOptions } from '../fixtures/blobs.js';
import { textData, writeTextFixture } from '../fixtures/text-model.js';
import { makeTmp } from '../fixtures/tiny-model.js';
import { FakeHost } from './fake-detector.js';
import { buildTestApp } from './helpers.js';

/**
 * Hostile input for a text model, generated: random strings (any code units, lone surrogates,
 * control characters, huge ones) and random JSON structures, on every route that takes text.
 * Each answer is a 200 or a 4xx with an error body, never a 5xx, and the app keeps answering.
 */
const SEED = 20_261_206;

const text = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom('alpha ', 'bravo ', 'ZULU ', '\u0000', '\ud800', '\udc00', ' ', '\n', 'é', '\u200b'), maxLength: 30 }) },
  { weight: 1, arbitrary: fc.nat({ max: 30_000 }).map((n) => 'alpha '.repeat(n)) },
);
const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text,
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom('input_ids', 'attention_mask', 'text', 'b64', '__proto__', 'x'), tie('value'), { maxKeys: 3 }),
  ),
})).value;

/** Token ids of the right shape and type, in range or not: the model, not the decoder, refuses these. */
const tokens = fc.record({
  input_ids: fc.array(fc.integer({ min: -40, max: 200_000 }), { minLength: 6, maxLength: 6 }),
  attention_mask: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 6, maxLength: 6 }),
});
const instance = fc.oneof({ weight: 3, arbitrary: text }, { weight: 2, arbitrary: json }, { weight: 1, arbitrary: tokens });

describe('a text model under hostile bodies', () => {
  let tmp: Awaited<ReturnType<typeof makeTmp>>;
  let detector: DeepKnnDetector;
  let app: FastifyInstance;

  before(async () => {
    tmp = await makeTmp('text-hostile');
    const config = await configIn(tmp.dir);
    const fixture = await writeTextFixture(join(tmp.dir, 'inputs'), 240, 6);
    const log = pino({ level: 'silent' });
    await addModel(onnxModelOptions('texts', fixture.modelFile, textData(fixture), { tokenizer: fixture.tokenizerFile }), config, log);
    detector = await loadDetector(detectorSettings({ ...config, model: 'texts', scoringThreads: 0 }), log);
    app = await buildTestApp(new FakeHost(detector), { bodyLimitBytes: 1_000_000, maxBatch: 8 });
  });
  after(async () => {
    await app.close();
    detector.dispose();
    await tmp.cleanup();
  });

  function assertAnswered(res: LightMyRequestResponse, what: string): void {
    assert.ok(res.statusCode === 200 || (res.statusCode >= 400 && res.statusCode < 500), `${what}: ${res.statusCode} ${res.body.slice(0, 300)}`);
    if (res.statusCode !== 200) assert.ok(typeof (res.json() as { error: unknown }).error !== 'undefined', res.body.slice(0, 300));
  }

  it('never answers 5xx, whatever the strings and structures', async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(instance, { minLength: 1, maxLength: 4 }), fc.constantFrom('predict', 'v2', 'tf-rows', 'tf-columns'), async (instances, route) => {
        const request =
          route === 'predict'
            ? { url: '/predict', payload: { instances } }
            : route === 'v2'
              ? { url: '/v2/models/texts/infer', payload: { inputs: [{ name: 'text', shape: [instances.length], datatype: 'BYTES', data: instances }] } }
              : { url: '/v1/models/texts:predict', payload: route === 'tf-rows' ? { instances } : { inputs: { text: instances } } };
        const res = await app.inject({ method: 'POST', ...request });
        assertAnswered(res, `${route} ${JSON.stringify(instances).slice(0, 200)}`);
        seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1);
      }),
      { seed: SEED, numRuns: 300 },
    );
    // Both kinds of answer occurred: the generator reaches the scoring path, not only the refusals.
    assert.ok((seen.get(200) ?? 0) > 20 && (seen.get(400) ?? 0) > 20, JSON.stringify([...seen]));
    const after = await app.inject({ method: 'POST', url: '/predict', payload: { instances: ['alpha bravo'] } });
    assert.equal(after.statusCode, 200, after.body);
  });
});
