import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROMETHEUS_DIR = path.join(ROOT, 'deploy/prometheus');
const CONFIG = path.join(PROMETHEUS_DIR, 'prometheus.yml');
const ALERTS = path.join(PROMETHEUS_DIR, 'alerts.yml');
const ALERT_TESTS = path.join(PROMETHEUS_DIR, 'alerts.test.yml');
const DASHBOARD = path.join(ROOT, 'deploy/grafana/dashboards/ood-service.json');
const DATASOURCE = path.join(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml');
const PROMTOOL = process.env.PROMTOOL ?? 'promtool';

const REQUIRED_ALERTS = ['OodOutlierShareHigh', 'OodHighLatencyP99', 'OodTargetDown', 'OodNotReady'];

/**
 * Without promtool these tests skip, naming what to install; on CI (which installs it) a missing
 * binary fails them instead, so they can never pass there unrun.
 */
const promtoolMissing =
  !process.env.CI && spawnSync(PROMTOOL, ['--version']).error
    ? `${PROMTOOL} is not installed (apt-get install -y prometheus, or set PROMTOOL to its path)`
    : undefined;

/** Runs promtool; a missing binary fails the test. */
async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(PROMTOOL, args, { cwd: ROOT, timeout: 30_000 });
    return stdout + stderr;
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') {
      assert.fail(`${PROMTOOL} not found: install it with \`apt-get install prometheus\` (or set PROMTOOL to its path)`);
    }
    assert.fail(`promtool ${args.join(' ')} failed (exit ${String(e.code)}):\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** `- alert: Name` entries of a rules file; promtool has already checked that it parses. */
function alertNames(rulesYaml: string): string[] {
  return [...rulesYaml.matchAll(/^\s*-\s*alert:\s*(\S+)\s*$/gm)].map((m) => m[1]);
}

interface Datasource {
  type?: string;
  uid?: string;
}
interface Target {
  refId?: string;
  expr?: string;
  datasource?: Datasource;
}
interface Panel {
  id?: number;
  type: string;
  title: string;
  datasource?: Datasource;
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  schemaVersion: number;
  templating?: { list: unknown[] };
  panels: Panel[];
}

/** Every panel, rows' collapsed children included. */
function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

describe('Prometheus configuration (promtool)', { skip: promtoolMissing }, () => {
  it('prometheus.yml is valid and finds its rule file next to it', async () => {
    const out = await promtool('check', 'config', CONFIG);
    assert.match(out, /SUCCESS: 1 rule files found/);
    assert.match(out, /alerts\.yml/);
    const config = await readFile(CONFIG, 'utf8');
    assert.match(config, /job_name:\s*ood-service/);
    assert.match(config, /targets:\s*\["127\.0\.0\.1:8080"\]/);
    assert.match(config, /scrape_interval:\s*15s/);
    assert.match(config, /evaluation_interval:\s*15s/);
  });

  it('alerts.yml is valid and holds every required alert', async () => {
    await promtool('check', 'rules', ALERTS);
    const names = alertNames(await readFile(ALERTS, 'utf8'));
    for (const name of REQUIRED_ALERTS) assert.ok(names.includes(name), `alert ${name} is missing from alerts.yml`);
    assert.equal(new Set(names).size, names.length, 'alert names are unique');
  });

  it('the alert unit tests pass and cover every alert', async () => {
    const out = await promtool('test', 'rules', ALERT_TESTS);
    assert.match(out, /SUCCESS/);
    const tests = await readFile(ALERT_TESTS, 'utf8');
    const tested = new Set([...tests.matchAll(/^\s*alertname:\s*(\S+)\s*$/gm)].map((m) => m[1]));
    for (const name of alertNames(await readFile(ALERTS, 'utf8'))) {
      assert.ok(tested.has(name), `alerts.test.yml has no test for ${name}`);
    }
  });
});

describe('Grafana provisioning', () => {
  let dashboard: Dashboard;
  let panels: Panel[];
  const exprs = () => panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? '' })));

  before(async () => {
    dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as Dashboard;
    panels = allPanels(dashboard.panels).filter((p) => p.type !== 'row');
  });

  it('the datasource is provisioned with the uid the dashboard uses', async () => {
    const yaml = await readFile(DATASOURCE, 'utf8');
    assert.match(yaml, /^\s*uid:\s*prometheus\s*$/m);
    assert.match(yaml, /^\s*url:\s*http:\/\/127\.0\.0\.1:9090\s*$/m);
  });

  it('the dashboard has its uid, a recent schema and no template variables', () => {
    assert.equal(dashboard.uid, 'ood-service');
    assert.ok(dashboard.schemaVersion >= 36, `schemaVersion ${dashboard.schemaVersion}`);
    assert.deepEqual(dashboard.templating?.list ?? [], []);
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  });

  it('every panel queries the prometheus datasource with a non-empty expr', () => {
    for (const panel of panels) {
      assert.deepEqual(panel.datasource, { type: 'prometheus', uid: 'prometheus' }, `panel "${panel.title}" datasource`);
      const targets = panel.targets ?? [];
      assert.ok(targets.some((t) => (t.expr ?? '').trim() !== ''), `panel "${panel.title}" has no expr`);
      for (const target of targets) {
        assert.deepEqual(target.datasource, { type: 'prometheus', uid: 'prometheus' }, `panel "${panel.title}" target ${target.refId}`);
        assert.ok((target.expr ?? '').trim() !== '', `panel "${panel.title}" target ${target.refId} has an empty expr`);
      }
    }
  });

  it('exprs use no variable but $__rate_interval', () => {
    for (const { panel, expr } of exprs()) {
      const variables = [...expr.matchAll(/\$\{?(\w+)|\[\[(\w+)/g)].map((m) => m[1] ?? m[2]);
      for (const variable of variables) {
        assert.equal(variable, '__rate_interval', `panel "${panel}" uses $${variable}: ${expr}`);
      }
    }
  });

  it('has a panel for every required topic', () => {
    const topics: Record<string, (exprs: string[]) => boolean> = {
      'request rate by route and status': (e) =>
        e.some((x) => /ood_http_request_duration_seconds_count/.test(x) && /route/.test(x) && /status_code/.test(x)),
      'inference latency p50/p90/p99 (every POST but /admin/reload)': (e) =>
        ['0.5', '0.9', '0.99'].every((q) =>
          e.some(
            (x) =>
              x.includes(`histogram_quantile(${q},`) &&
              /ood_http_request_duration_seconds_bucket\{[^}]*method="POST"[^}]*route!="\/admin\/reload"/.test(x),
          ),
        ),
      'outlier share vs significance, per model': (e) =>
        e.some((x) => /by \(model\) \(increase\(ood_predictions_total\{[^}]*outcome="outlier"/.test(x)) && e.some((x) => /ood_significance/.test(x)),
      'outlier score distribution': (e) => e.some((x) => /ood_outlier_score_bucket/.test(x)),
      'layer search time by layer': (e) =>
        ['0.5', '0.99'].every((q) =>
          e.some((x) => x.includes(`histogram_quantile(${q},`) && /ood_layer_search_duration_seconds_bucket/.test(x) && /\blayer\b/.test(x)),
        ),
      'model ready': (e) => e.some((x) => /ood_model_ready/.test(x)),
      'runtime and backend info': (e) => e.some((x) => /ood_model_runtime_info/.test(x)),
      'resident memory': (e) => e.some((x) => /process_resident_memory_bytes/.test(x)),
      'tfjs tensors': (e) => e.some((x) => /ood_tfjs_tensors/.test(x)),
      'event-loop lag': (e) => e.some((x) => /nodejs_eventloop_lag/.test(x)),
      'drift statistic vs its threshold': (e) => e.some((x) => /ood_drift_log10_statistic/.test(x)) && e.some((x) => /ood_drift_log10_threshold/.test(x)),
    };
    for (const [topic, covered] of Object.entries(topics)) {
      // A topic counts when one panel covers it on its own (share and α side by side, etc.).
      const panel = panels.find((p) => covered((p.targets ?? []).map((t) => t.expr ?? '')));
      assert.ok(panel, `no panel covers "${topic}"`);
    }
  });

  describe('exprs are valid PromQL', { skip: promtoolMissing }, () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'ood-dashboard-rules-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('promtool accepts every expr as a recording rule once $__rate_interval is 1m', async () => {
      const all = exprs();
      const rules = all.map(({ expr }, i) => ({ record: `dashboard:expr_${i}`, expr: expr.replaceAll('$__rate_interval', '1m') }));
      const file = path.join(dir, 'dashboard-exprs.yml');
      // JSON is YAML, and JSON.stringify escapes every expr safely.
      await writeFile(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }, null, 2));
      const out = await promtool('check', 'rules', file);
      assert.match(out, new RegExp(`SUCCESS: ${rules.length} rules found`));
    });
  });
});
