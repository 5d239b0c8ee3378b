/**
 * The image under a real engine and a real Prometheus: run by scripts/container/test-container.sh
 * (`npm run test:container`) after it has built the image named by OOD_TEST_IMAGE. Not a
 * `*.test.ts` file, so the unit suite never runs it without an engine.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { loadReferenceSet } from '../../src/reference/load-reference-set.js';
import { uniformNoise } from '../../src/reference/synthetic.js';
import { freePort } from '../../scripts/bench/server.js';
import { waitFor } from '../support/async.js';
import { bearer, grpcStatus, oipClient } from '../http/grpc-client.js';

const run = promisify(execFile);
const IMAGE = process.env.OOD_TEST_IMAGE ?? 'ood-service:test';
const TOKEN = 'container-test-token';
const ALERTS = ['OodOutlierShareHigh', 'OodHighLatencyP99', 'OodTargetDown', 'OodTargetMissing', 'OodNotReady', 'OodModelReloadFailed'];

const docker = async (...args: string[]) => (await run('docker', args, { maxBuffer: 64 * 1024 * 1024 })).stdout.trim();

async function getJson<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as T };
}

interface PromResponse {
  status: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

describe('the ood-service image', () => {
  const name = `ood-container-test-${process.pid}`;
  let port: number;
  let grpcPort: number;
  let base: string;
  let startedAt: number;
  let readySeconds: number;
  let digits: number[][];
  let prometheus: ChildProcess | undefined;
  let promBase: string;
  let promDir: string;

  const predict = (instances: number[][], token: string | null = TOKEN) =>
    fetch(`${base}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ instances }),
    });

  before(async () => {
    const refset = await loadReferenceSet('reference-sets', 'mnist');
    const { data, cols } = refset.test.x;
    digits = Array.from({ length: 20 }, (_, i) => Array.from(data.subarray(i * cols, (i + 1) * cols)));

    port = await freePort();
    grpcPort = await freePort();
    base = `http://127.0.0.1:${port}`;
    startedAt = performance.now();
    await docker('run', '-d', '--name', name, '--network', 'host', '-e', `PORT=${port}`, '-e', `OOD_GRPC_PORT=${grpcPort}`, '-e', `OOD_API_TOKENS=${TOKEN}`, '-e', 'OOD_REVIEW_SIZE=5', IMAGE);
    await waitFor(async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200, 120_000);
    readySeconds = (performance.now() - startedAt) / 1000;
  });

  after(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus?.once('exit', resolve));
      prometheus.kill('SIGTERM');
      // It flushes its database on SIGTERM; the folder goes only once it has.
      const killer = setTimeout(() => prometheus?.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    await docker('rm', '-f', name).catch(() => undefined);
    if (promDir) await rm(promDir, { recursive: true, force: true });
  });

  it('is ready within seconds on the cache warmed at build time', async () => {
    process.stdout.write(`# container ready after ${readySeconds.toFixed(1)} s\n`);
    const logs = await docker('logs', name);
    assert.match(logs, /reusing cached reference graphs and calibration/, logs.slice(-3000));
    assert.doesNotMatch(logs, /"msg":"built HNSW graph"/, 'the container rebuilt graphs the image should hold');
    assert.ok(readySeconds < 30, `ready after ${readySeconds.toFixed(1)} s`);
  });

  it('runs as a non-root user', async () => {
    assert.equal(await docker('exec', name, 'node', '-e', 'process.stdout.write(String(process.getuid()))'), '10001');
    assert.equal(await docker('inspect', '-f', '{{.Config.User}}', name), '10001:10001');
  });

  it("reports healthy through the image's HEALTHCHECK on /readyz", async () => {
    await waitFor(async () => (await docker('inspect', '-f', '{{.State.Health.Status}}', name)) === 'healthy', 60_000);
  });

  it('answers /predict with a bearer token, 401 without one, and flags noise', async () => {
    assert.equal((await predict([digits[0]], null)).status, 401);
    assert.equal((await predict([digits[0]], 'wrong')).status, 401);
    const noise = Array.from(uniformNoise(1, 3).data);
    const res = await predict([digits[0], noise]);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { model: { name: string; version: string }; predictions: { is_outlier: boolean; outlier_score: number }[] };
    assert.equal(body.model.name, 'mnist');
    assert.equal(body.predictions.length, 2);
    assert.equal(body.predictions[1].is_outlier, true);
    assert.ok(body.predictions[1].outlier_score > body.predictions[0].outlier_score);
    const info = await getJson<{ backend: string; reference_size: number }>(`${base}/models/default`);
    assert.equal(info.status, 200);
    assert.ok(['tensorflow', 'wasm'].includes(info.body.backend), info.body.backend);
    assert.equal(info.body.reference_size, 7000);
  });

  it('speaks the Open Inference Protocol v2 and TF Serving, and serves its OpenAPI document', async () => {
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
    const own = ((await (await predict([digits[0]])).json()) as { predictions: { is_outlier: boolean }[] }).predictions[0].is_outlier;
    const v2 = await fetch(`${base}/v2/models/mnist/infer`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ id: 'c1', inputs: [{ name: 'pixels', shape: [1, 784], datatype: 'FP32', data: digits[0] }], outputs: [{ name: 'is_outlier' }] }),
    });
    assert.equal(v2.status, 200);
    assert.deepEqual(((await v2.json()) as { outputs: unknown[] }).outputs, [{ name: 'is_outlier', datatype: 'BOOL', shape: [1], data: [own] }]);
    const tf = await fetch(`${base}/v1/models/mnist:predict`, { method: 'POST', headers, body: JSON.stringify({ instances: [digits[0]] }) });
    assert.equal(tf.status, 200);
    assert.equal(((await tf.json()) as { predictions: { is_outlier: boolean }[] }).predictions[0].is_outlier, own);
    const openapi = await getJson<{ openapi: string; paths: Record<string, unknown> }>(`${base}/openapi.json`);
    assert.match(openapi.body.openapi, /^3\./);
    assert.ok(openapi.body.paths['/v2/models/{name}/infer']);
    assert.equal((await fetch(`${base}/docs/static/swagger-ui-bundle.js`)).status, 200);
  });

  it('speaks the Open Inference Protocol over gRPC, with health for probes, from the shipped .proto files', async () => {
    const client = oipClient(grpcPort);
    try {
      assert.equal(await client.health(), 'SERVING');
      const v2 = await fetch(`${base}/v2/models/mnist/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ inputs: [{ name: 'pixels', shape: [1, 784], datatype: 'FP32', data: digits[0] }], outputs: [{ name: 'outlier_score' }] }),
      });
      const rest = ((await v2.json()) as { outputs: { data: number[] }[] }).outputs[0].data;
      const request = { modelName: 'mnist', inputs: [{ name: 'pixels', datatype: 'FP32', shape: [1, 784], contents: { fp32Contents: digits[0] } }], outputs: [{ name: 'outlier_score' }] };
      await assert.rejects(client.call('ModelInfer', request), grpcStatus('UNAUTHENTICATED'));
      const answer = await client.call('ModelInfer', request, bearer(TOKEN));
      assert.deepEqual((answer.outputs as { contents: { fp64Contents: number[] } }[])[0].contents.fp64Contents, rest);
    } finally {
      client.close();
    }
  });

  it("serves the review page and its script from the compiled code", async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const page = await fetch(`${base}/review`, { headers: auth });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script src="\/review\/review.js">/);
    // The image holds dist/ only: the script must be found there, not beside the TypeScript.
    const script = await fetch(`${base}/review/review.js`, { headers: auth });
    assert.equal(script.status, 200, await script.clone().text());
    assert.match(script.headers.get('content-type') ?? '', /javascript/);
    assert.match(await script.text(), /^\(\(\) => \{/);
  });

  it('exposes its metrics', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(text, /^ood_model_ready\{model="mnist"\} 1$/m);
    assert.match(text, /^ood_model_runtime_info\{runtime="tfjs",backend="(wasm|tensorflow)",model="mnist",version="[^"]+"\} 1$/m);
    assert.match(text, /^ood_predictions_total\{model="mnist",outcome="outlier"\} [1-9]/m);
  });

  it('ships a compose file docker-compose accepts', async () => {
    await run('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q']);
    const services = (await run('docker-compose', ['-f', 'docker-compose.yml', 'config', '--services'])).stdout.split('\n').filter(Boolean);
    assert.deepEqual(services.sort(), ['grafana', 'ood-service', 'prometheus']);
    // With the tracing override: a collector, and the service pointed at it.
    const traced = ['-f', 'docker-compose.yml', '-f', 'docker-compose.tracing.yml', 'config'];
    await run('docker-compose', [...traced, '-q']);
    assert.deepEqual((await run('docker-compose', [...traced, '--services'])).stdout.split('\n').filter(Boolean).sort(), ['grafana', 'ood-service', 'otel-collector', 'prometheus']);
    assert.match((await run('docker-compose', traced)).stdout, /OTEL_TRACES_EXPORTER: otlp/);
  });

  describe('under a real Prometheus with the shipped config and rules', () => {
    const query = async (q: string) => {
      const { status, body } = await getJson<PromResponse>(`${promBase}/api/v1/query?query=${encodeURIComponent(q)}`);
      assert.equal(status, 200, `${q}: ${JSON.stringify(body)}`);
      assert.equal(body.status, 'success');
      return body.data.result;
    };

    before(async () => {
      promDir = await mkdtemp(join(tmpdir(), 'ood-prom-'));
      const promPort = await freePort();
      promBase = `http://127.0.0.1:${promPort}`;
      // The shipped config, pointed at this container's port and sped up from 15 s to 1 s.
      const shipped = await readFile('deploy/prometheus/prometheus.yml', 'utf8');
      const config = shipped
        .replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`)
        .replaceAll('127.0.0.1:9090', `127.0.0.1:${promPort}`)
        .replace(/(scrape_interval|evaluation_interval): 15s/g, '$1: 1s')
        .replace(/scrape_timeout: \d+s/, 'scrape_timeout: 1s');
      assert.notEqual(config, shipped);
      await writeFile(join(promDir, 'prometheus.yml'), config);
      await copyFile('deploy/prometheus/alerts.yml', join(promDir, 'alerts.yml'));
      prometheus = spawn(
        'prometheus',
        [
          `--config.file=${join(promDir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(promDir, 'data')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
        ],
        { stdio: 'ignore' },
      );
      let failed: Error | undefined;
      prometheus.once('error', (err) => (failed = err));
      await waitFor(async () => {
        if (failed) throw new Error(`prometheus did not start: ${failed.message}`);
        return (await fetch(`${promBase}/-/ready`).catch(() => undefined))?.status === 200;
      }, 30_000);
      // Traffic for the rate() panels over several scrapes, since rate() needs two samples.
      for (let i = 0; i < 20; i++) {
        assert.equal((await predict(digits.slice(i % 10, (i % 10) + 2))).status, 200);
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      await waitFor(async () => Number((await query('count_over_time(up{job="ood-service"}[1m])'))[0]?.value[1] ?? 0) >= 5, 30_000);
    });

    it("scrapes the service's series", async () => {
      await waitFor(async () => (await query('sum(ood_predictions_total{job="ood-service"})')).some((r) => Number(r.value[1]) >= 20), 30_000);
      assert.equal((await query('up{job="ood-service"}'))[0]?.value[1], '1');
      assert.equal((await query('ood_model_ready{job="ood-service"}'))[0]?.value[1], '1');
      assert.equal((await query('ood_significance{job="ood-service"}'))[0]?.value[1], '0.05');
      assert.ok((await query('ood_layer_search_duration_seconds_count{job="ood-service"}')).length >= 2);
    });

    it('loads every alert rule, healthy, and fires none on a healthy service', async () => {
      type Rules = { data: { groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] } };
      let groups: Rules['data']['groups'] = [];
      await waitFor(async () => {
        groups = (await getJson<Rules>(`${promBase}/api/v1/rules`)).body.data.groups;
        return groups.flatMap((g) => g.rules).every((r) => r.health === 'ok') && groups.length > 0;
      }, 30_000);
      const rules = groups.flatMap((g) => g.rules);
      for (const alert of ALERTS) assert.ok(rules.some((r) => r.name === alert), `alert ${alert} not loaded`);
      for (const rule of rules) assert.equal(rule.health, 'ok', `${rule.name}: ${rule.lastError}`);
      type Alerts = { data: { alerts: { labels: { alertname: string }; state: string }[] } };
      const firing = (await getJson<Alerts>(`${promBase}/api/v1/alerts`)).body.data.alerts.filter((a) => a.state === 'firing');
      assert.deepEqual(firing.map((a) => a.labels.alertname), []);
    });

    it("evaluates every Grafana dashboard query, most of them with data", async () => {
      const dashboard = JSON.parse(await readFile('deploy/grafana/dashboards/ood-service.json', 'utf8')) as {
        panels: { title: string; targets?: { expr: string }[] }[];
      };
      const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr.replaceAll('$__rate_interval', '1m') })));
      assert.ok(exprs.length >= 10);
      const empty: string[] = [];
      for (const { panel, expr } of exprs) if ((await query(expr)).length === 0) empty.push(`${panel}: ${expr}`);
      process.stdout.write(`# dashboard queries: ${exprs.length}, without data: ${empty.length}\n`);
      // Some panels legitimately show nothing on a healthy, quiet service (e.g. 5xx rates).
      assert.ok(empty.length <= exprs.length / 4, `queries without data:\n${empty.join('\n')}`);
    });
  });

  it('drains accepted requests on docker stop and exits 0', async () => {
    const inFlight = Array.from({ length: 8 }, (_, i) => predict(digits.slice(i, i + 2)).then((r) => r.status));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await docker('stop', '-t', '15', name);
    // All were sent before the signal: each gets its answer, or a 503 if it reached the server
    // only once it was closing; none is dropped.
    const statuses = await Promise.all(inFlight);
    assert.ok(statuses.every((s) => s === 200 || s === 503), statuses.join(','));
    // The logs first, so that a wrong exit code comes with the lines that say why.
    const logs = await docker('logs', name);
    const tail = logs.trim().split('\n').slice(-15).join('\n');
    assert.equal(await docker('inspect', '-f', '{{.State.ExitCode}}', name), '0', `exit code; the last log lines:\n${tail}`);
    assert.match(logs, /"unfinished":0,"inFlight":0,.*"msg":"closed"/);
  });
});
