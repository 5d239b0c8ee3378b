import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ENV_NAMES, loadConfig, SETTINGS } from '../../src/config.js';
import { flattenSettings, shownDefault } from '../../src/settings.js';
import { README, SETTINGS_END, SETTINGS_START, withSettingsTable } from '../../scripts/gen-docs.js';

describe("the README's settings table", () => {
  const readme = readFileSync(README, 'utf8');

  it('is the one npm run gen:docs writes from the settings (run it after changing a setting)', () => {
    assert.ok(readme.includes(SETTINGS_START) && readme.includes(SETTINGS_END));
    assert.equal(readme, withSettingsTable(readme));
  });

  it('lists every variable the service reads, once, with the default it really has', () => {
    const table = readme.slice(readme.indexOf(SETTINGS_START), readme.indexOf(SETTINGS_END));
    const rows = [...table.matchAll(/^\| `([A-Z_]+)` \| ([^|]*) \|/gm)].map((m) => [m[1], m[2].trim()]);
    assert.deepEqual(rows.map(([name]) => name).sort(), [...ENV_NAMES].sort());
    const defaults = loadConfig({});
    for (const { path, setting } of flattenSettings(SETTINGS)) {
      const shown = rows.find(([name]) => name === setting.env)?.[1];
      assert.equal(shown, shownDefault(setting), setting.env);
      // A default the schema gives must be what the configuration holds when nothing is set
      // (OOD_MODEL's is read as `model`, which OOD_MODELS can override).
      if (setting.shown === undefined && shown !== 'unset') {
        const value = setting.env === 'OOD_MODEL' ? defaults.model : path.reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], defaults);
        assert.equal(String(value), shown, setting.env);
      }
    }
  });
});
