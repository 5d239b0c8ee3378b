import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`): the page tests skip, naming it, without it. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** On CI, which installs Chromium, a missing one fails the page tests instead of skipping them. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM) || process.env.CI ? undefined : `Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium)`;
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}

/** What a page did that it should not: console errors, uncaught exceptions, requests to other hosts. */
export interface PageProblems {
  consoleErrors: string[];
  pageErrors: string[];
  offsiteRequests: string[];
}

/** Records every problem on `page` from now on; only `origin` may be asked for anything. */
export function watchPage(page: Page, origin: string): PageProblems {
  const problems: PageProblems = { consoleErrors: [], pageErrors: [], offsiteRequests: [] };
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => problems.pageErrors.push(err.message));
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(`${origin}/`) && !url.startsWith('data:') && !url.startsWith('blob:')) problems.offsiteRequests.push(url);
  });
  return problems;
}
