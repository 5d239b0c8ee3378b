import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { loadConfig } from '../../src/config.js';
import { loadDetector } from '../../src/detector/load-detector.js';
import { detectorSettings } from '../../src/detector-settings.js';
import type { Detector } from '../../src/detector/types.js';
import { initBackend } from '../../src/model/backend.js';
import { loadReferenceSet } from '../../src/reference/load-reference-set.js';
import { uniformNoise } from '../../src/reference/synthetic.js';
import { FakeHost } from '../http/fake-detector.js';
import { buildTestApp } from '../http/helpers.js';
import { chromiumMissing, launchChromium, watchPage } from './browser.js';

const SCREENSHOTS = process.env.OOD_SCREENSHOTS_DIR;
const TOKEN = 'review-page-token';

/**
 * The review page on the embedded mnist model, as a browser sees it: it asks for the token
 * (Basic credentials), then shows the flagged inputs as pictures beside their nearest training
 * examples in every layer.
 */
describe('the /review page in headless Chromium', { skip: chromiumMissing() }, () => {
  let cacheDir: string;
  let detector: Detector;
  let app: FastifyInstance;
  let browser: Browser;
  let origin: string;

  before(async () => {
    await initBackend('wasm');
    cacheDir = await mkdtemp(join(tmpdir(), 'ood-review-page-'));
    const config = loadConfig({ OOD_CACHE_DIR: cacheDir, OOD_SCORING_THREADS: '0', OOD_REVIEW_SIZE: '10' });
    detector = await loadDetector(detectorSettings(config), { info() {}, warn() {}, error() {}, debug() {} } as never);
    app = await buildTestApp(new FakeHost(detector), { maxBatch: 16, bodyLimitBytes: 1_000_000, reviewSize: config.reviewSize, apiTokens: [TOKEN] });
    await app.listen({ port: 0, host: '127.0.0.1' });
    origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    // Two noise images (flagged) among three held-out digits.
    const refset = await loadReferenceSet(config.referenceSetsDir, 'mnist');
    const digits = [0, 1, 2].map((i) => Array.from(refset.test.x.data.subarray(i * 784, (i + 1) * 784)));
    const noise = [Array.from(uniformNoise(1, 5).data), Array.from(uniformNoise(1, 6).data)];
    const res = await app.inject({ method: 'POST', url: '/predict', headers: { authorization: `Bearer ${TOKEN}` }, payload: { instances: [...digits, ...noise] } });
    assert.equal(res.statusCode, 200);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await app?.close();
    detector?.dispose?.();
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  });

  it('is refused without the token, with a challenge a browser answers by asking for it', async () => {
    const context = await browser.newContext();
    const res = await context.request.get(`${origin}/review`);
    assert.equal(res.status(), 401);
    assert.match(res.headers()['www-authenticate'] ?? '', /^Basic realm="ood-service"/);
    await context.close();
  });

  it('shows each flagged input beside its nearest training examples, with no console error and nothing fetched off this server', async () => {
    const context = await browser.newContext({ httpCredentials: { username: 'reviewer', password: TOKEN }, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = watchPage(page, origin);
    await page.goto(`${origin}/review`, { waitUntil: 'networkidle' });
    await page.waitForSelector('.entry');
    const entries = await page.$$('.entry');
    assert.ok(entries.length >= 2, `${entries.length} flagged inputs shown`);
    // Every neighbour's picture is fetched and drawn: 4 layers x 5 examples per entry, plus the input.
    await page.waitForFunction(() => document.querySelector('.entry')?.querySelectorAll('.ref canvas').length === 20, undefined, { timeout: 20_000 });
    const first = await page.$eval('.entry', (e) => ({
      input: e.querySelectorAll(':scope > canvas').length,
      refs: e.querySelectorAll('.ref canvas').length,
      labels: Array.from(e.querySelectorAll('.ref > span:last-child')).map((s) => s.textContent),
      head: e.querySelector('.head')?.textContent ?? '',
    }));
    assert.equal(first.input, 1);
    assert.equal(first.refs, 20);
    assert.ok(first.labels.every((l) => /^\d$/.test(l ?? '')), `labels ${first.labels.join(',')}`);
    assert.match(first.head, /label \d, outlier score (0\.9\d\d|1\.000)/);
    if (SCREENSHOTS) {
      await mkdir(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: join(SCREENSHOTS, 'review.png'), fullPage: true });
    }
    assert.deepEqual(problems, { consoleErrors: [], pageErrors: [], offsiteRequests: [] });
    await context.close();
  });
});
