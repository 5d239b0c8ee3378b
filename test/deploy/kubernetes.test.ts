import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { parseAllDocuments } from 'yaml';
import { ENV_NAMES, loadConfig } from '../../src/config.js';
import { ALERTS_FILE, PROMETHEUS_RULE_FILE, prometheusRule } from '../../scripts/gen-k8s-rules.js';
import { FakeDetector, FakeHost } from '../http/fake-detector.js';
import { buildTestApp } from '../http/helpers.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are plain YAML objects */
type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [key: string]: any };

const KUBECTL = process.env.KUBECTL ?? 'kubectl';
// On CI, which installs kubectl, a missing one fails these tests instead of skipping them.
const kubectlMissing =
  process.env.CI || spawnSync(KUBECTL, ['version', '--client'], { encoding: 'utf8' }).status === 0 ? undefined : `${KUBECTL} is not installed (apt-get install -y kubectl)`;

/** Each kind the manifests use, with the maintained model that checks it against Kubernetes' own OpenAPI schema. */
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  Deployment,
  Service,
  ConfigMap,
  Namespace,
  HorizontalPodAutoscaler,
  PodDisruptionBudget,
  NetworkPolicy,
  ServiceMonitor,
  PrometheusRule,
};

function render(dir: string): K8sObject[] {
  const text = execFileSync(KUBECTL, ['kustomize', dir], { encoding: 'utf8' });
  return parseAllDocuments(text).map((d) => d.toJS() as K8sObject);
}

const one = (objects: K8sObject[], kind: string) => {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0];
};
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

for (const dir of ['deploy/kubernetes/base', 'deploy/kubernetes/overlays/example']) {
  describe(`kubectl kustomize ${dir}`, { skip: kubectlMissing }, () => {
    const objects = kubectlMissing ? [] : render(dir);
    const deployment = () => one(objects, 'Deployment');
    const pod = () => deployment().spec.template;
    const server = () => pod().spec.containers.find((c: any) => c.name === 'ood-service');
    const config = () => {
      const configMap = one(objects, 'ConfigMap');
      const env: Record<string, string> = { ...configMap.data };
      for (const e of server().env) if (e.value !== undefined) env[e.name] = e.value;
      return { configMap, env };
    };

    it('renders a Deployment, Service, HPA, PDB, ServiceMonitor, PrometheusRule and NetworkPolicy that pass the schema check', () => {
      for (const kind of ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'ServiceMonitor', 'PrometheusRule', 'NetworkPolicy', 'ConfigMap']) one(objects, kind);
      for (const object of objects) {
        const Model = MODELS[object.kind];
        assert.ok(Model, `no schema model for ${object.kind}`);
        assert.doesNotThrow(() => new Model(object).validate(), `${object.kind}/${object.metadata.name}`);
      }
    });

    it('has a schema check that catches a broken object', () => {
      const broken = structuredClone(deployment());
      broken.spec.replicas = 'two';
      delete broken.spec.template;
      assert.throws(() => new Deployment(broken).validate(), /replicas must be integer|required property 'template'/);
    });

    it('reads only settings the service knows, and they load as a valid configuration', () => {
      const { configMap, env } = config();
      const known = new Set<string>(ENV_NAMES);
      for (const name of [...Object.keys(configMap.data), ...server().env.map((e: any) => e.name)]) assert.ok(known.has(name), `${name} is not a setting of the service`);
      const secretKey = server().env.find((e: any) => e.name === 'OOD_API_TOKENS')?.valueFrom?.secretKeyRef;
      assert.equal(secretKey?.key, 'OOD_API_TOKENS', 'tokens come from a Secret');
      assert.doesNotThrow(() => loadConfig(env));
    });

    it('names the gRPC port the service listens on, in the Deployment, the Service and the network policy', () => {
      const { env } = config();
      const port = server().ports.find((p: any) => p.name === 'grpc');
      assert.equal(port?.containerPort, loadConfig(env).grpcPort);
      assert.notEqual(loadConfig(env).grpcPort, 0, 'gRPC is on');
      assert.ok(one(objects, 'Service').spec.ports.some((p: any) => p.name === 'grpc' && p.targetPort === 'grpc'));
      assert.ok(one(objects, 'NetworkPolicy').spec.ingress.some((rule: any) => rule.ports.some((p: any) => p.port === 'grpc')));
    });

    it("probes the service's own routes on the port it listens on, and they answer", async () => {
      const { env } = config();
      const port = server().ports.find((p: any) => p.name === 'http');
      assert.equal(port.containerPort, loadConfig(env).port);
      const paths = { startup: server().startupProbe.httpGet.path, readiness: server().readinessProbe.httpGet.path, liveness: server().livenessProbe.httpGet.path };
      assert.deepEqual(paths, { startup: '/readyz', readiness: '/readyz', liveness: '/healthz' });
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) assert.equal(server()[probe].httpGet.port, 'http');
      // Liveness answers while loading (a cold build is not a crash); readiness only once loaded.
      const host = new FakeHost();
      const app = await buildTestApp(host);
      try {
        assert.equal((await app.inject({ method: 'GET', url: paths.liveness })).statusCode, 200);
        assert.equal((await app.inject({ method: 'GET', url: paths.readiness })).statusCode, 503);
        host.current = new FakeDetector();
        assert.equal((await app.inject({ method: 'GET', url: paths.readiness })).statusCode, 200);
      } finally {
        await app.close();
      }
      const startupSeconds = server().startupProbe.periodSeconds * server().startupProbe.failureThreshold;
      assert.ok(startupSeconds >= 240, `the startup probe allows ${startupSeconds} s for a cold build`);
    });

    it('gives the drain its time: preStop, then the drain delay and the shutdown timeout, within the grace period', () => {
      const { env } = config();
      const settings = loadConfig(env);
      const preStop = server().lifecycle.preStop.exec.command;
      assert.equal(preStop[0], 'sleep');
      const preStopMs = Number(preStop[1]) * 1000;
      assert.ok(settings.drainDelayMs >= 1000, `the drain delay (${settings.drainDelayMs} ms) covers endpoint propagation`);
      const graceMs = pod().spec.terminationGracePeriodSeconds * 1000;
      assert.ok(graceMs >= preStopMs + settings.shutdownTimeoutMs + 5000, `grace ${graceMs} ms < preStop ${preStopMs} + shutdown ${settings.shutdownTimeoutMs} + 5000`);
      assert.deepEqual(deployment().spec.strategy.rollingUpdate, { maxSurge: 1, maxUnavailable: 0 });
    });

    it('runs one scoring thread per core of its CPU limit, not per core of the node', () => {
      const { env } = config();
      const cpuLimit = Number(server().resources.limits.cpu);
      assert.ok(Number.isInteger(cpuLimit) && cpuLimit >= 1, `a whole-core CPU limit, got ${server().resources.limits.cpu}`);
      assert.equal(loadConfig(env).scoringThreads, cpuLimit);
    });

    it('runs as non-root on a read-only root filesystem, writing only to its cache and /tmp volumes', () => {
      assert.equal(pod().spec.securityContext.runAsNonRoot, true);
      for (const c of [...pod().spec.initContainers, ...pod().spec.containers]) {
        assert.equal(c.securityContext.readOnlyRootFilesystem, true, c.name);
        assert.equal(c.securityContext.allowPrivilegeEscalation, false, c.name);
        assert.ok(c.resources.requests.memory && c.resources.limits.memory, `${c.name} has memory requests and limits`);
      }
      const { env } = config();
      const mounts = server().volumeMounts.map((m: any) => m.mountPath);
      assert.ok(mounts.includes(env.OOD_CACHE_DIR), `the cache dir ${env.OOD_CACHE_DIR} is a volume`);
      assert.ok(mounts.includes('/tmp'));
    });

    it('wires the Service, PDB, NetworkPolicy, HPA and ServiceMonitor to the pods and the metrics the alerts read', async () => {
      const podLabels = pod().metadata.labels;
      const service = one(objects, 'Service');
      assert.ok(matches(service.spec.selector, podLabels), 'the Service selects the pods');
      assert.ok(matches(one(objects, 'PodDisruptionBudget').spec.selector.matchLabels, podLabels));
      assert.ok(matches(one(objects, 'NetworkPolicy').spec.podSelector.matchLabels, podLabels));
      assert.equal(one(objects, 'HorizontalPodAutoscaler').spec.scaleTargetRef.name, deployment().metadata.name);
      const monitor = one(objects, 'ServiceMonitor');
      assert.ok(matches(monitor.spec.selector.matchLabels, service.metadata.labels ?? {}), 'the ServiceMonitor selects the Service');
      const endpoint = monitor.spec.endpoints[0];
      assert.ok(service.spec.ports.some((p: any) => p.name === endpoint.port));
      assert.equal(endpoint.path, '/metrics');
      assert.deepEqual(endpoint.relabelings, [{ targetLabel: 'job', replacement: 'ood-service' }], 'the job label the alert rules select');
      const app = await buildTestApp(new FakeHost(new FakeDetector()));
      try {
        assert.equal((await app.inject({ method: 'GET', url: endpoint.path })).statusCode, 200);
      } finally {
        await app.close();
      }
    });

    it('carries the alert rules of deploy/prometheus/alerts.yml, unchanged', () => {
      const rule = one(objects, 'PrometheusRule');
      const alerts = parseAllDocuments(readFileSync(ALERTS_FILE, 'utf8'))[0].toJS();
      assert.deepEqual(rule.spec, alerts);
    });
  });
}

describe('the PrometheusRule file', () => {
  it('is what npm run gen:k8s-rules writes from deploy/prometheus/alerts.yml', () => {
    assert.equal(readFileSync(PROMETHEUS_RULE_FILE, 'utf8'), prometheusRule(readFileSync(ALERTS_FILE, 'utf8')), 'run npm run gen:k8s-rules');
  });
});
