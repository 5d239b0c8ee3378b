import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { pino } from 'pino';
import type { DeepKnnDetector } from '../../src/detector/deep-knn-detector.js';
import { loadDetector } from '../../src/detector/load-detector.js';
import { detectorSettings } from '../../src/detector-settings.js';
import { addModel } from '../../src/onboarding/add-model.js';
import { configIn, onnxModelOptions } from '../fixtures/blobs.js';
import { textData, writeTextFixture } from '../fixtures/text-model.js';
import { makeTmp } from '../fixtures/tiny-model.js';
import { FakeHost } from '../http/fake-detector.js';
import { buildTestApp } from '../http/helpers.js';
import { chromiumMissing, launchChromium, watchPage } from './browser.js';

const SCREENSHOTS = process.env.OOD_SCREENSHOTS_DIR;

/** The review page for a text model: a flagged text shown as text, beside its nearest training texts. */
describe('the /review page of a text model in headless Chromium', { skip: chromiumMissing() }, () => {
  let tmp: Awaited<ReturnType<typeof makeTmp>>;
  let detector: DeepKnnDetector;
  let app: FastifyInstance;
  let browser: Browser;
  let origin: string;

  before(async () => {
    tmp = await makeTmp('review-text');
    const config = await configIn(tmp.dir);
    const fixture = await writeTextFixture(join(tmp.dir, 'inputs'), 240, 6);
    const log = pino({ level: 'silent' });
    await addModel(onnxModelOptions('texts', fixture.modelFile, textData(fixture), { tokenizer: fixture.tokenizerFile }), config, log);
    // Half of all inputs flagged, so that some texts are surely kept for review.
    detector = await loadDetector({ ...detectorSettings({ ...config, model: 'texts', significance: 0.5 }), keepReferences: true }, log);
    app = await buildTestApp(new FakeHost(detector), { maxBatch: 16, bodyLimitBytes: 100_000, reviewSize: 10 });
    await app.listen({ port: 0, host: '127.0.0.1' });
    origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const res = await app.inject({ method: 'POST', url: '/predict', payload: { instances: ['zulu zulu zulu', 'alpha bravo', 'Romeo romeo <b>bold</b>', 'kilo lima'] } });
    assert.equal(res.statusCode, 200, res.body);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await app?.close();
    detector?.dispose();
    await tmp?.cleanup();
  });

  it('shows each flagged text with its nearest training texts per layer, as text, with no console error', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = watchPage(page, origin);
    await page.goto(`${origin}/review`, { waitUntil: 'networkidle' });
    await page.waitForSelector('.entry');
    const entries = await page.$$eval('.entry', (nodes) =>
      nodes.map((e) => ({
        text: e.querySelector('.text')?.textContent ?? null,
        html: e.querySelector('.text')?.innerHTML ?? '',
        refs: Array.from(e.querySelectorAll('.reftext')).map((r) => r.textContent ?? ''),
        canvases: e.querySelectorAll('canvas').length,
      })),
    );
    assert.ok(entries.length > 0, 'some text was flagged');
    for (const entry of entries) {
      assert.notEqual(entry.text, null);
      assert.equal(entry.canvases, 0, 'texts are not drawn as pictures');
      // Markup in a text stays text: the page never parses it.
      assert.ok(!entry.html.includes('<b>'), entry.html);
      assert.ok(entry.refs.length > 0 && entry.refs.every((r) => /^([a-z]+|\[UNK\])( ([a-z]+|\[UNK\]))*$/.test(r)), entry.refs.join(' | '));
    }
    if (SCREENSHOTS) {
      await mkdir(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: join(SCREENSHOTS, 'review-text.png'), fullPage: true });
    }
    assert.deepEqual(problems, { consoleErrors: [], pageErrors: [], offsiteRequests: [] });
    await context.close();
  });
});
