import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { FakeDetector, FakeHost } from './fake-detector.js';
import { assertError, buildTestApp } from './helpers.js';

/** A 2x2 grey PNG with pixels 0, 51, 102, 255 (row-major). */
async function greyPng(): Promise<string> {
  const pixels = Buffer.from([0, 51, 102, 255]);
  const png = await sharp(pixels, { raw: { width: 2, height: 2, channels: 1 } }).png().toBuffer();
  return png.toString('base64');
}

describe('POST /predict with {"b64": ...} image instances', () => {
  const imageModel = new FakeDetector({
    info: {
      input_shape: [1, 2, 2],
      preprocessing: { width: 2, height: 2, channels: 1, layout: 'nchw', scale: 1 / 255, mean: [0], std: [1] },
    },
  });
  let app: FastifyInstance;
  let numbersApp: FastifyInstance;

  before(async () => {
    app = await buildTestApp(new FakeHost(imageModel), { bodyLimitBytes: 1_000_000 });
    numbersApp = await buildTestApp(new FakeHost(new FakeDetector()));
  });
  after(async () => {
    await app.close();
    await numbersApp.close();
  });

  it('decodes a PNG with the manifest preprocessing, beside numeric instances in the same batch', async () => {
    const b64 = await greyPng();
    const res = await app.inject({ method: 'POST', url: '/predict', payload: { instances: [{ b64 }, [0.5, 0.5, 0.5, 0.5]] } });
    assert.equal(res.statusCode, 200, res.body);
    const call = imageModel.calls.at(-1);
    assert.equal(call?.rows, 2);
    const expected = [0, 51 / 255, 102 / 255, 1, 0.5, 0.5, 0.5, 0.5];
    Array.from(call?.inputs ?? []).forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6, `${i}: ${v} vs ${expected[i]}`));
  });

  it('refuses an image for a model without preprocessing, bad base64 and bytes that are no image, naming the instance', async () => {
    const b64 = await greyPng();
    let body = assertError(await numbersApp.inject({ method: 'POST', url: '/predict', payload: { instances: [[0, 0, 0, 0], { b64 }] } }), 400, 'INVALID_INSTANCE');
    assert.match(body.error.message, /instances\[1\].*takes no images/);
    body = assertError(await app.inject({ method: 'POST', url: '/predict', payload: { instances: [{ b64: 'not base64!' }] } }), 400, 'INVALID_INSTANCE');
    assert.match(body.error.message, /instances\[0\]\.b64 is not base64/);
    body = assertError(
      await app.inject({ method: 'POST', url: '/predict', payload: { instances: [{ b64: Buffer.from('plain text, not a PNG').toString('base64') }] } }),
      400,
      'INVALID_INSTANCE',
    );
    assert.match(body.error.message, /instances\[0\]\.b64/);
    body = assertError(await app.inject({ method: 'POST', url: '/predict', payload: { instances: [{ b65: 'x' }] } }), 400, 'INVALID_INSTANCE');
    assert.match(body.error.message, /instances\[0\] names the input "b65"; model \S+ takes one, \S+/);
    // A small file that declares a huge picture is refused before it is decoded.
    const huge = await sharp({ create: { width: 2100, height: 2000, channels: 3, background: '#000' } }).png().toBuffer();
    assert.ok(huge.length < 100_000, `${huge.length} bytes`);
    body = assertError(await app.inject({ method: 'POST', url: '/predict', payload: { instances: [{ b64: huge.toString('base64') }] } }), 400, 'INVALID_INSTANCE');
    assert.match(body.error.message, /instances\[0\]\.b64.*pixel/i);
  });
});
