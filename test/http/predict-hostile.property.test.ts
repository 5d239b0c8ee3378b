import assert from 'node:assert/strict';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import fc from 'fast-check';
import pino from 'pino';
import { loadConfig } from '../../src/config.js';
import type { DeepKnnDetector } from '../../src/detector/deep-knn-detector.js';
import { loadDetector } from '../../src/detector/load-detector.js';
import { detectorSettings } from '../../src/detector-settings.js';
import { ErrorResponseSchema, PredictResponseSchema } from '../../src/http/schemas.js';
import { MAX_INSTANCE_DEPTH } from '../../src/http/instances.js';
import { initBackend } from '../../src/model/backend.js';
import { makeTmp } from '../fixtures/tiny-model.js';
import { FakeDetector, FakeHost } from './fake-detector.js';
import { buildTestApp } from './helpers.js';

/**
 * Hostile input, generated: whatever arrives at POST /predict, the answer is a 200 with the
 * contract's body or a 4xx with the error envelope, never a 5xx, and the app keeps answering.
 * Seeds are fixed so a failure reproduces; fast-check prints the seed and the shrunk input.
 */
const SEED = 20_240_501;

/** A number token written exactly as given: JSON.stringify can produce neither 1e999 nor -0. */
class RawNumber {
  constructor(readonly text: string) {}
}

/** An object as a list of entries, so a generated body can repeat a key or hold `__proto__`. */
class Entries {
  constructor(readonly entries: [string, unknown][]) {}
}

function toJsonText(value: unknown): string {
  if (value instanceof RawNumber) return value.text;
  if (value instanceof Entries) {
    return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`).join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`;
  return JSON.stringify(value) ?? 'null';
}

const FLOAT32_MAX = 3.4028234663852886e38;

/** Valid JSON numbers, ordinary and awkward: -0, underflow, overflow, the float32 edges. */
const numberToken: fc.Arbitrary<RawNumber> = fc.oneof(
  { weight: 4, arbitrary: fc.double({ min: -1, max: 1, noNaN: true }).map((x) => new RawNumber(String(x))) },
  { weight: 2, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => new RawNumber(String(x))) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(
        '0', '-0', '-0.0', '0e0', '1E+2', '1e-400', '-1e-400', '4.9e-324', '1.4e-45', '1e999', '-1e999',
        '3.4028234663852886e38', '-3.4028234663852886e38', '3.4028235e38', '3.5e38', '1e38', '-1e39',
        '123456789012345678901234567890', '0.1', '255',
      )
      .map((text) => new RawNumber(text)),
  },
);

/** Numbers every float32 model input accepts, the awkward ones included. */
const finiteToken: fc.Arbitrary<RawNumber> = fc.oneof(
  fc.double({ min: -1e3, max: 1e3, noNaN: true }).map((x) => new RawNumber(String(x))),
  fc.constantFrom('-0', '1e-400', '-1e-400', '4.9e-324', '3.4028234663852886e38', '-1e38').map((text) => new RawNumber(text)),
);

/** What JSON allows but an instance must not hold, plus tokens that are not JSON at all. */
const wrongLeaf = fc.oneof(
  fc.constantFrom<unknown>(null, true, false, '1', '', 'NaN', [], [1], new Entries([])),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '+1', '.5', '01', '0x10', '1e', '-').map((text) => new RawNumber(text)),
  fc.string({ maxLength: 5 }),
);

const leaf = fc.oneof({ weight: 6, arbitrary: numberToken }, { weight: 1, arbitrary: wrongLeaf });

function nest(value: unknown, depth: number): unknown {
  return depth === 0 ? value : nest([value], depth - 1);
}

/** Instances of a model with `width` inputs: right, nearly right and wrong. */
function instanceArb(width: number): fc.Arbitrary<unknown> {
  const row = (n: number) => fc.array(numberToken, { minLength: n, maxLength: n });
  const half = Math.max(1, Math.floor(width / 2));
  return fc.oneof(
    { weight: 6, arbitrary: row(width) },
    { weight: 1, arbitrary: row(width).map((r) => r.map((x) => [x])) },
    { weight: 1, arbitrary: row(width).map((r) => [r]) },
    {
      weight: 1,
      arbitrary: width % 2 === 0 ? fc.tuple(row(half), row(half)) : row(width).map((r) => [r]),
    },
    { weight: 1, arbitrary: fc.tuple(row(width), fc.integer({ min: 0, max: MAX_INSTANCE_DEPTH + 2 })).map(([r, d]) => nest(r, d)) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: width + 3 }).chain(row) },
    { weight: 1, arbitrary: fc.array(fc.array(numberToken, { maxLength: 5 }), { maxLength: 5 }) },
    { weight: 2, arbitrary: fc.array(leaf, { minLength: width, maxLength: width }) },
    { weight: 1, arbitrary: wrongLeaf },
  );
}

/** Keys that the server must not trip over: prototype poisoning, and plain noise. */
const extraKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'model', 'INSTANCES', 'instances '),
  fc.string({ maxLength: 8 }),
);

function bodyArb(width: number, maxBatch: number, bodyLimitBytes: number, opts: { poison: boolean }) {
  const goodRow = fc.array(finiteToken, { minLength: width, maxLength: width });
  const instances = fc.oneof(
    { weight: 4, arbitrary: fc.array(goodRow, { minLength: 1, maxLength: maxBatch }) },
    { weight: 6, arbitrary: fc.array(instanceArb(width), { minLength: 0, maxLength: maxBatch + 2 }) },
    { weight: 1, arbitrary: leaf },
    { weight: 1, arbitrary: fc.constant(new Entries([['0', [0, 0, 0, 0]]])) },
  );
  const includeNeighbors = fc.oneof(
    { weight: 4, arbitrary: fc.boolean() },
    { weight: 1, arbitrary: fc.constantFrom<unknown>('true', 1, 0, null, [], new Entries([])) },
  );
  const key = opts.poison ? extraKey : fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__' && k !== 'constructor');
  const entry: fc.Arbitrary<[string, unknown]> = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(key, fc.jsonValue({ maxDepth: 2 })) },
    // Long enough, now and then, to cross the body limit.
    { weight: 1, arbitrary: fc.tuple(key, fc.integer({ min: 0, max: 2 * bodyLimitBytes }).map((n) => 'x'.repeat(n))) },
  );
  return fc
    .record(
      {
        before: fc.array(entry, { maxLength: 2 }),
        instances: fc.option(instances, { freq: 8, nil: undefined }),
        includeNeighbors: fc.option(includeNeighbors, { freq: 2, nil: undefined }),
        after: fc.array(entry, { maxLength: 1 }),
      },
      { requiredKeys: ['before', 'after'] },
    )
    .map(({ before, instances, includeNeighbors, after }) => {
      const entries: [string, unknown][] = [...before];
      if (instances !== undefined) entries.push(['instances', instances]);
      if (includeNeighbors !== undefined) entries.push(['include_neighbors', includeNeighbors]);
      entries.push(...after);
      return new Entries(entries);
    });
}

/**
 * The specification, restated independently of toInputBatch and zod: what a JSON body must be
 * to be scored. Keys are looked up as JSON.parse leaves them (the last duplicate wins).
 */
function acceptable(body: unknown, width: number, maxBatch: number): boolean {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return false;
  const { instances, include_neighbors: includeNeighbors } = body as Record<string, unknown>;
  if (includeNeighbors !== undefined && typeof includeNeighbors !== 'boolean') return false;
  if (!Array.isArray(instances) || instances.length < 1 || instances.length > maxBatch) return false;
  return instances.every((instance) => flatten(instance, 0)?.length === width);
}

/** The instance's numbers in row-major order, or undefined when it is not a rectangular array of finite float32s. */
function flatten(value: unknown, depth: number): number[] | undefined {
  if (!Array.isArray(value) || value.length === 0 || depth >= MAX_INSTANCE_DEPTH) return undefined;
  if (value.every((x) => typeof x === 'number')) {
    return value.every((x) => Math.abs(x) <= FLOAT32_MAX) ? value : undefined;
  }
  const parts = value.map((x) => flatten(x, depth + 1));
  if (parts.some((p) => p === undefined)) return undefined;
  // Each child is rectangular, so its first elements give its shape; all must share it.
  const shapes = new Set(value.map((x) => JSON.stringify(shapeOf(x))));
  return shapes.size === 1 ? parts.flatMap((p) => p ?? []) : undefined;
}

function shapeOf(value: unknown): number[] {
  return Array.isArray(value) ? [value.length, ...shapeOf(value[0])] : [];
}

/** undefined for text that is not JSON; no JSON text parses to undefined. */
function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

type Outcome = 'ok' | 'client-error';

/** The property every answer must satisfy, whatever was sent. Returns which kind it was. */
function assertWellFormed(res: LightMyRequestResponse): Outcome {
  const where = `status ${res.statusCode}: ${res.body.slice(0, 300)}`;
  if (res.statusCode === 200) {
    const body = PredictResponseSchema.parse(res.json());
    assert.ok(body.predictions.length >= 1, where);
    return 'ok';
  }
  assert.ok(res.statusCode >= 400 && res.statusCode < 500, where);
  assert.match(String(res.headers['content-type']), /^application\/json/, where);
  ErrorResponseSchema.parse(JSON.parse(res.body));
  return 'client-error';
}

async function assertStillHealthy(app: FastifyInstance): Promise<void> {
  const res = await app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { status: 'ok' });
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=UTF-8',
  'application/json;charset=utf-8',
  'application/json; charset="utf-8"',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'APPLICATION/JSON',
  'application/json; foo',
  'application/json;;',
  'application/problem+json',
  'application/vnd.api+json',
  'text/plain',
  'text/plain; charset=utf-8',
  'text/json',
  'application/octet-stream',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  '',
  ';',
  '*/*',
  'application/',
  undefined,
] as const;

const headersArb = fc
  .record(
    {
      'content-type': fc.constantFrom(...CONTENT_TYPES),
      'content-encoding': fc.constantFrom('identity', 'gzip', 'br', 'deflate', 'x-unknown'),
      accept: fc.constantFrom('application/json', 'text/html', '*/*', 'application/xml'),
    },
    { requiredKeys: [] },
  )
  .map((headers): Record<string, string> => {
    const present: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) if (value !== undefined) present[name] = value;
    return present;
  });

const FAKE_WIDTH = 4;
const FAKE_MAX_BATCH = 64;
const FAKE_BODY_LIMIT = 32 * 1024;

describe('POST /predict under generated hostile input (fake detector)', () => {
  const detector = new FakeDetector();
  let app: FastifyInstance;
  const seen = new Map<string, number>();
  const count = (what: string) => seen.set(what, (seen.get(what) ?? 0) + 1);

  before(async () => {
    app = await buildTestApp(new FakeHost(detector), { maxBatch: FAKE_MAX_BATCH, bodyLimitBytes: FAKE_BODY_LIMIT });
  });
  after(() => app.close());

  it('scores exactly the bodies the specification accepts, and answers 400/413 to the rest', async () => {
    const body = bodyArb(FAKE_WIDTH, FAKE_MAX_BATCH, FAKE_BODY_LIMIT, { poison: false });
    await fc.assert(
      fc.asyncProperty(body, async (generated) => {
        const text = toJsonText(generated);
        const calls = detector.calls.length;
        const res = await app.inject({
          method: 'POST',
          url: '/predict',
          payload: text,
          headers: { 'content-type': 'application/json' },
        });
        const outcome = assertWellFormed(res);
        count(`${res.statusCode}`);
        if (Buffer.byteLength(text) > FAKE_BODY_LIMIT) {
          assert.equal(res.statusCode, 413, res.body);
          return;
        }
        const parsed = parseOrUndefined(text);
        if (parsed === undefined || !acceptable(parsed, FAKE_WIDTH, FAKE_MAX_BATCH)) {
          assert.equal(res.statusCode, 400, `accepted what the specification refuses: ${text.slice(0, 300)}`);
          assert.equal(detector.calls.length, calls, 'a refused body reached the detector');
          return;
        }
        assert.equal(outcome, 'ok', `refused a valid body: ${text.slice(0, 300)} -> ${res.body}`);
        const { instances, include_neighbors: includeNeighbors } = parsed as { instances: unknown[]; include_neighbors?: boolean };
        const call = detector.calls.at(-1);
        assert.equal(call?.rows, instances.length);
        // -0 stays -0, and every number reaches the detector as its float32 rounding.
        const expected = Float32Array.from(instances.flatMap((instance) => flatten(instance, 0) ?? []));
        assert.deepEqual(call?.inputs, expected);
        const predictions = PredictResponseSchema.parse(res.json()).predictions;
        assert.equal(predictions.length, instances.length);
        assert.equal(predictions[0].layers[0].neighbor_ids !== undefined, includeNeighbors === true);
      }),
      { numRuns: 400, seed: SEED },
    );
    // The generator is only worth something if it reaches every kind of answer.
    for (const status of ['200', '400', '413']) assert.ok((seen.get(status) ?? 0) > 5, `too few ${status}s: ${[...seen]}`);
    await assertStillHealthy(app);
  });

  it('never answers 5xx to any JSON value, prototype poisoning or duplicate keys included', async () => {
    const anyJson = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.anything().map((v) => JSON.stringify(v) ?? ''),
      bodyArb(FAKE_WIDTH, FAKE_MAX_BATCH, FAKE_BODY_LIMIT, { poison: true }).map(toJsonText),
    );
    await fc.assert(
      fc.asyncProperty(anyJson, headersArb, async (payload, headers) => {
        const res = await app.inject({ method: 'POST', url: '/predict', payload, headers });
        assertWellFormed(res);
      }),
      { numRuns: 400, seed: SEED },
    );
    await assertStillHealthy(app);
  });

  it('never answers 5xx to bytes that are not JSON, or to broken JSON, under any content type', async () => {
    const validText = bodyArb(FAKE_WIDTH, FAKE_MAX_BATCH, FAKE_BODY_LIMIT, { poison: false }).map(toJsonText);
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.string({ unit: 'binary', maxLength: 100 }).map((s) => Buffer.from(s, 'utf8')),
      // Valid bodies cut short, or with one byte overwritten (possibly into invalid UTF-8).
      fc.tuple(validText, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([text, at, byte]) => {
        const buf = Buffer.from(text, 'utf8');
        const i = at % Math.max(1, buf.length);
        return byte % 2 === 0 ? buf.subarray(0, i) : Buffer.concat([buf.subarray(0, i), Buffer.from([byte]), buf.subarray(i + 1)]);
      }),
      fc.constantFrom(
        Buffer.from([0xef, 0xbb, 0xbf, ...Buffer.from('{"instances":[[1,2,3,4]]}')]), // a UTF-8 byte-order mark
        Buffer.from('{"instances":[[1,2,3,4]]}', 'utf16le'),
        Buffer.from('\u0000'),
        Buffer.from('{"instances":[[1,2,3,4]]}\u0000'),
        Buffer.from(`{"instances":${'['.repeat(5000)}`),
        Buffer.from(`${'['.repeat(1000)}${']'.repeat(1000)}`),
      ),
    );
    await fc.assert(
      fc.asyncProperty(bytes, headersArb, async (payload, headers) => {
        const res = await app.inject({ method: 'POST', url: '/predict', payload, headers });
        assertWellFormed(res);
      }),
      { numRuns: 400, seed: SEED },
    );
    await assertStillHealthy(app);
  });
});

describe('POST /predict under generated hostile input (the real mnist model)', () => {
  const MAX_BATCH = 3;
  let tmp: { dir: string; cleanup: () => Promise<void> };
  let detector: DeepKnnDetector;
  let app: FastifyInstance;
  let width: number;

  before(async () => {
    await initBackend('wasm');
    tmp = await makeTmp('predict-hostile');
    // The shipped model and code, over a subsample of its reference set: the full one takes
    // about 16 s to index, this one under 3 s, and neither changes what input is refused.
    await cp('models/mnist', join(tmp.dir, 'models', 'mnist'), { recursive: true });
    const refset = JSON.parse(await readFile('reference-sets/mnist/manifest.json', 'utf8'));
    refset.split = { ...refset.split, calibration: 300, test: 10, train: 1000 };
    await mkdir(join(tmp.dir, 'reference-sets', 'mnist'), { recursive: true });
    await writeFile(join(tmp.dir, 'reference-sets', 'mnist', 'manifest.json'), JSON.stringify(refset));
    const settings = {
      ...detectorSettings(loadConfig({})),
      modelsDir: join(tmp.dir, 'models'),
      referenceSetsDir: join(tmp.dir, 'reference-sets'),
      cacheDir: join(tmp.dir, 'cache'),
    };
    detector = await loadDetector(settings, pino({ level: 'silent' }));
    width = detector.info.input_shape.reduce((a, b) => a * b, 1);
    app = await buildTestApp(new FakeHost(detector), { maxBatch: MAX_BATCH, bodyLimitBytes: 1 << 20 });
  });
  after(async () => {
    await app?.close();
    detector?.dispose();
    await tmp?.cleanup();
  });

  it('answers 200 or 400, never 5xx, to extreme numbers and near-miss shapes', async () => {
    // Images on the training scale, or flooded with one awkward value, or pure generated noise.
    const pixel = fc.double({ min: 0, max: 1, noNaN: true });
    const image = fc.oneof(
      fc.array(pixel, { minLength: width, maxLength: width }).map((xs) => xs.map((x) => new RawNumber(String(x)))),
      fc.tuple(numberToken, fc.array(fc.nat(width - 1), { maxLength: width })).map(([value, at]) => {
        const xs: RawNumber[] = Array.from({ length: width }, () => new RawNumber('0'));
        for (const i of at) xs[i] = value;
        return xs;
      }),
      numberToken.map((value) => Array.from({ length: width }, () => value)),
      instanceArb(width),
    );
    const body = fc
      .tuple(fc.array(image, { minLength: 1, maxLength: MAX_BATCH + 1 }), fc.boolean())
      .map(([instances, includeNeighbors]) => toJsonText(new Entries([['instances', instances], ['include_neighbors', includeNeighbors]])));
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(body, async (payload) => {
        const res = await app.inject({ method: 'POST', url: '/predict', payload, headers: { 'content-type': 'application/json' } });
        assertWellFormed(res);
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      }),
      { numRuns: 150, seed: SEED },
    );
    assert.ok((statuses.get(200) ?? 0) > 10 && (statuses.get(400) ?? 0) > 10, `statuses seen: ${[...statuses]}`);
    await assertStillHealthy(app);
  });
});
