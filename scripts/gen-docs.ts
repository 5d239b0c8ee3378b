/**
 * Writes the README's settings table from the settings' own declarations (src/config.ts and
 * src/detector/settings.ts), so the two never disagree; test/docs/readme-tables.test.ts fails
 * when the committed README differs from what this writes.
 *
 *   npm run gen:docs
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../src/atomic-write.js';
import { SETTINGS } from '../src/config.js';
import { settingsTable } from '../src/settings.js';

export const README = 'README.md';
export const SETTINGS_START = '<!-- settings:start (npm run gen:docs writes this table from SETTINGS in src/config.ts, which takes in src/detector/settings.ts) -->';
export const SETTINGS_END = '<!-- settings:end -->';

/** The README with its settings table written anew between the markers. */
export function withSettingsTable(readme: string): string {
  const start = readme.indexOf(SETTINGS_START);
  const end = readme.indexOf(SETTINGS_END);
  if (start < 0 || end < start) throw new Error(`${README} has no settings table markers (${SETTINGS_START} ... ${SETTINGS_END})`);
  return `${readme.slice(0, start + SETTINGS_START.length)}\n${settingsTable(SETTINGS)}\n${readme.slice(end)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await writeFileAtomic(README, withSettingsTable(readFileSync(README, 'utf8')));
  process.stdout.write(`wrote the settings table in ${README}\n`);
}
