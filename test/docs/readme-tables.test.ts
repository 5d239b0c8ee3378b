import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { RegisteredRoute } from '../../src/http/app.js';
import { ServedModels } from '../../src/lifecycle/served-models.js';
import { FakeDetector, FakeHost } from '../http/fake-detector.js';
import { buildTestApp } from '../http/helpers.js';
import { ENV_NAMES, loadConfig, SETTINGS } from '../../src/config.js';
import { AUTHORIZED_METHODS, inferenceHandlers, REPOSITORY_METHODS, SHED_METHODS } from '../../src/http/grpc/inference-service.js';
import { services } from '../../src/http/grpc/proto.js';
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

/** A registered URL in the README's notation: `:name` is `{name}`, and `::` a literal colon. */
function readmePath(url: string): string {
  // A parameter is a colon after a slash; any other colon is literal (find-my-way's "::").
  return url.replace(/\/:(\w+)(\([^)]*\))?/g, '/{$1}').replace(/::/g, ':');
}

interface ReadmeRow {
  routes: string[];
  token: string;
  shed: string;
}

/**
 * The route table's rows, each with its routes spelled out: `[/versions/{v}]` is a route with and
 * one without the version, and `.../ready` the previous route's path with /ready after it.
 */
function routeRows(readme: string): ReadmeRow[] {
  const start = readme.indexOf('| route | token | shed | what |');
  assert.ok(start >= 0, 'the README has its route table');
  const lines = readme.slice(start).split('\n').slice(2);
  const rows: ReadmeRow[] = [];
  for (const line of lines) {
    if (!line.startsWith('|')) break;
    const [routeCell, token, shed] = line.slice(1).split(' | ').map((c) => c.trim());
    const routes: string[] = [];
    let previous = '';
    for (const spec of routeCell.split(/`,\s*`/).map((r) => r.replace(/`/g, ''))) {
      const [method, path] = spec.startsWith('.../') ? [previous.split(' ')[0], `${previous.split(' ')[1]}${spec.slice(3)}`] : spec.split(' ');
      previous = `${method} ${path}`;
      const versioned = path.replace('[/versions/{v}]', '/versions/{version}');
      const plain = path.replace('[/versions/{v}]', '');
      for (const p of new Set([plain, versioned])) routes.push(`${method} ${p}`);
    }
    rows.push({ routes, token, shed });
  }
  return rows;
}

describe("the README's route table", () => {
  let app: FastifyInstance;
  let registered: readonly RegisteredRoute[];
  const rows = routeRows(readFileSync(README, 'utf8'));
  const key = (r: RegisteredRoute) => `${r.method} ${readmePath(r.url)}`;

  before(async () => {
    // Every optional part on: tokens, the admin routes, the review, load shedding.
    app = await buildTestApp(new FakeHost(new FakeDetector()), {
      apiTokens: ['t'],
      admin: { reloads: new ServedModels(['fake']) },
      reviewSize: 5,
      loadShedding: { maxEventLoopDelayMs: 1000, maxHeapUsedBytes: 0, retryAfterSeconds: 1 },
    });
    await app.ready();
    registered = app.registeredRoutes();
  });
  after(() => app.close());

  it('lists every route the app serves, and only those', () => {
    const documented = new Set(rows.flatMap((r) => r.routes));
    const served = new Set(registered.map(key));
    for (const route of documented) assert.ok(served.has(route), `the README lists ${route}, which the app does not serve`);
    for (const r of registered.filter((route) => !route.hidden)) assert.ok(documented.has(key(r)), `the app serves ${key(r)}, which the README does not list`);
  });

  it('says which routes need a token, which are admin routes, and which are shed under load', () => {
    for (const row of rows) {
      for (const route of row.routes) {
        const r = registered.find((candidate) => key(candidate) === route);
        if (!r) continue;
        const token = r.repository ? 'yes, or this host when trusted' : r.admin ? 'admin' : r.requiresAuth ? 'yes' : 'no';
        assert.equal(row.token, token, `${route}: token`);
        assert.equal(row.shed, r.shed ? 'yes' : 'no', `${route}: shed`);
      }
    }
  });
});

describe("the README's gRPC table", () => {
  /** Method name -> [token, shed] cells, each row's methods spelled out. */
  const rows = (readme: string) => {
    const start = readme.indexOf('| method | token | shed | what |');
    assert.ok(start >= 0, 'the README has its gRPC table');
    const out = new Map<string, [string, string]>();
    for (const line of readme.slice(start).split('\n').slice(2)) {
      if (!line.startsWith('|')) break;
      const [methods, token, shed] = line.slice(1).split(' | ').map((c) => c.trim());
      for (const m of methods.split(/`,\s*`/)) out.set(m.replace(/`/g, '').replace(/^.*\//, ''), [token, shed]);
    }
    return out;
  };

  it('lists every method of the service definition, with the token and shedding the server applies', () => {
    const table = rows(readFileSync('README.md', 'utf8'));
    const implemented = new Set(Object.keys(inferenceHandlers({} as never, '0')));
    for (const method of Object.keys(services().inference)) {
      const row = table.get(method);
      assert.ok(row, `${method} is in the table`);
      if (!implemented.has(method)) {
        assert.deepEqual(row, ['-', '-'], `${method} is not implemented, and the table says so with - cells`);
        continue;
      }
      // A load or unload needs a token, unless it comes from this host and loopback is trusted.
      const token = REPOSITORY_METHODS.has(method) ? 'yes, or this host when trusted' : AUTHORIZED_METHODS.has(method) ? 'yes' : 'no';
      assert.deepEqual(row, [token, SHED_METHODS.has(method) ? 'yes' : 'no'], method);
    }
    for (const method of Object.keys(services().health)) assert.ok(table.has(method), `health ${method} is in the table`);
  });
});
