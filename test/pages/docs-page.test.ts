import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { FakeDetector, FakeHost } from '../http/fake-detector.js';
import { buildTestApp } from '../http/helpers.js';
import { chromiumMissing, launchChromium, watchPage } from './browser.js';

/** Set to a folder (npm run screenshots sets docs/screenshots) to keep what the page looked like. */
const SCREENSHOTS = process.env.OOD_SCREENSHOTS_DIR;

describe('the /docs page in headless Chromium', { skip: chromiumMissing() }, () => {
  let app: FastifyInstance;
  let browser: Browser;
  let origin: string;

  before(async () => {
    app = await buildTestApp(new FakeHost(new FakeDetector()));
    await app.listen({ port: 0, host: '127.0.0.1' });
    origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await app?.close();
  });

  it('renders every protocol\'s operations with no console error and no request off this server', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
    const problems = watchPage(page, origin);
    await page.goto(`${origin}/docs`, { waitUntil: 'networkidle' });
    await page.waitForSelector('.opblock-summary-path', { timeout: 30_000 });
    const title = await page.textContent('.info .title');
    assert.match(title ?? '', /ood-service/);
    const paths = await page.$$eval('.opblock-summary-path', (nodes) => nodes.map((n) => n.textContent?.replace(/\u200b/g, '') ?? ''));
    for (const path of ['/predict', '/v2/models/{name}/infer', '/v1/models/{name}:predict', '/models/{name}']) {
      assert.ok(paths.includes(path), `${path} is not shown; shown: ${paths.join(', ')}`);
    }
    if (SCREENSHOTS) {
      await mkdir(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: join(SCREENSHOTS, 'docs.png') });
    }
    assert.deepEqual(problems, { consoleErrors: [], pageErrors: [], offsiteRequests: [] });
    await page.close();
  });
});
