import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { ENV_NAMES } from '../../src/config.js';
import { crdValidator } from '../support/crd-schema.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered manifests are plain YAML objects */
type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [key: string]: any };

const KUBECTL = process.env.KUBECTL ?? 'kubectl';
// On CI, which installs kubectl, a missing one fails these tests instead of skipping them.
const kubectlMissing =
  process.env.CI || spawnSync(KUBECTL, ['version', '--client'], { encoding: 'utf8' }).status === 0 ? undefined : `${KUBECTL} is not installed (apt-get install -y kubectl)`;

const render = (dir: string): K8sObject[] => parseAllDocuments(execFileSync(KUBECTL, ['kustomize', dir], { encoding: 'utf8' })).map((d) => d.toJS() as K8sObject);
const only = (objects: K8sObject[], kind: string, name?: string) => {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `one ${kind}${name ? ` ${name}` : ''}`);
  return found[0];
};

describe('the model-server examples (deploy/kubernetes/examples)', { skip: kubectlMissing }, () => {
  const validate = crdValidator();
  const kserve = kubectlMissing ? [] : render('deploy/kubernetes/examples/kserve');
  const seldon = kubectlMissing ? [] : render('deploy/kubernetes/examples/seldon');

  it('render to objects that pass their custom resources\' schemas', () => {
    assert.deepEqual(kserve.map((o) => o.kind).sort(), ['InferenceGraph', 'InferenceService', 'InferenceService', 'ServingRuntime']);
    assert.deepEqual(seldon.map((o) => o.kind).sort(), ['Model', 'Model', 'Pipeline', 'Server', 'ServerConfig']);
    for (const object of [...kserve, ...seldon]) assert.deepEqual(validate(object), [], `${object.kind}/${object.metadata.name}`);
  });

  it('has a schema check that catches a misspelt field and a wrong protocol', () => {
    const broken = structuredClone(only(kserve, 'InferenceService', 'fashion-cnn-features'));
    broken.spec.predictor.model.storageURI = broken.spec.predictor.model.storageUri;
    broken.spec.predictor.model.protocolVersion = 'v3';
    const errors = validate(broken);
    assert.ok(errors.some((e) => e.includes('/spec/predictor/model/storageURI')), errors.join('; '));
    assert.ok(errors.some((e) => e.includes('/spec/predictor/model/protocolVersion')), errors.join('; '));
  });

  it('KServe: the runtime starts the service on the InferenceService\'s name, with settings it knows, and the graph forwards the predictor\'s response to it', () => {
    const runtime = only(kserve, 'ServingRuntime');
    const [container] = runtime.spec.containers;
    assert.deepEqual(container.args, ['--model', '{{.Name}}', '--seed-cache', '/mnt/models/.cache']);
    // The seed lands where the service keeps its cache, which must lie outside the read-only bundle.
    const cacheDir = container.env.find((e: any) => e.name === 'OOD_CACHE_DIR')?.value as string;
    assert.ok(cacheDir && !cacheDir.startsWith('/mnt/models'), cacheDir);
    // The image's own command, with the model named: the Dockerfile's CMD.
    const cmd = /^CMD (\[.*\])$/m.exec(readFileSync('Dockerfile', 'utf8'))?.[1];
    assert.deepEqual(container.command, JSON.parse(cmd as string));
    const known = new Set<string>(ENV_NAMES);
    for (const env of container.env) assert.ok(known.has(env.name), `${env.name} is not a setting of the service`);
    assert.ok(runtime.spec.protocolVersions.includes('v2'));

    const ood = only(kserve, 'InferenceService', 'fashion-cnn-features');
    assert.equal(ood.spec.predictor.model.runtime, runtime.metadata.name);
    assert.ok(runtime.spec.supportedModelFormats.some((f: any) => f.name === ood.spec.predictor.model.modelFormat.name));
    const classifier = only(kserve, 'InferenceService', 'fashion-cnn');
    assert.equal(classifier.spec.predictor.model.protocolVersion, 'v2');

    const [first, second] = only(kserve, 'InferenceGraph').spec.nodes.root.steps;
    assert.equal(first.data, '$request');
    assert.match(first.serviceUrl, new RegExp(`^http://${classifier.metadata.name}-predictor\\.models\\.svc\\.cluster\\.local/v2/models/${classifier.metadata.name}/infer$`));
    assert.equal(second.data, '$response');
    assert.match(second.serviceUrl, new RegExp(`^http://${ood.metadata.name}-predictor\\.models\\.svc\\.cluster\\.local/v2/models/${ood.metadata.name}/infer$`));
  });

  it('Seldon: the pipeline maps each tensor it takes from the classifier to an input of the features model, and answers with the service\'s response', () => {
    const pipeline = only(seldon, 'Pipeline');
    const models = seldon.filter((o) => o.kind === 'Model').map((o) => o.metadata.name);
    const steps = pipeline.spec.steps as { name: string; inputs?: string[]; tensorMap?: Record<string, string> }[];
    for (const step of steps) assert.ok(models.includes(step.name), `step ${step.name} is a Model of the folder`);
    const scoring = steps.find((s) => s.inputs) as { name: string; inputs: string[]; tensorMap: Record<string, string> };
    assert.deepEqual(Object.keys(scoring.tensorMap).sort(), [...scoring.inputs].sort());
    for (const [from, to] of Object.entries(scoring.tensorMap)) assert.equal(from, `fashion-cnn.outputs.${to}`);
    assert.deepEqual(pipeline.spec.output.steps, [scoring.name]);
  });

  it('Seldon: the ood-service Server takes the features model, and its agent reaches the service where it listens and loads from where it copies', () => {
    const config = only(seldon, 'ServerConfig');
    assert.equal(only(seldon, 'Server').spec.serverConfig, config.metadata.name);
    const containers = config.spec.podSpec.containers as any[];
    const byName = (name: string) => containers.find((c) => c.name === name);
    const envOf = (container: any) => Object.fromEntries((container.env as any[]).filter((e) => 'value' in e).map((e) => [e.name, e.value as string]));
    const agent = envOf(byName('agent'));
    const ood = byName('ood-service');
    const env = envOf(ood);
    const known = new Set<string>(ENV_NAMES);
    for (const e of ood.env) assert.ok(known.has(e.name), `${e.name} is not a setting of the service`);
    assert.equal(ood.command, undefined, "the image's own command starts the service");

    const model = only(seldon, 'Model', 'fashion-cnn-features');
    for (const requirement of model.spec.requirements) assert.ok(agent.SELDON_SERVER_CAPABILITIES.split(',').includes(requirement), requirement);
    assert.equal(env.PORT, agent.SELDON_SERVER_HTTP_PORT);
    // The agent sends no token: it is trusted on loopback, and gRPC listens there only.
    assert.equal(env.OOD_REPOSITORY_TRUST_LOOPBACK, 'true');
    assert.equal(env.OOD_GRPC_HOST, '127.0.0.1');
    assert.equal(env.OOD_GRPC_PORT, agent.SELDON_SERVER_GRPC_PORT);
    // The agent's repository layout: a bundle with model-settings.json, copied whole.
    assert.equal(agent.SELDON_SERVER_TYPE, 'mlserver');
    const mountOf = (container: any, volume: string) => (container.volumeMounts as any[]).find((m) => m.name === volume);
    const shared = mountOf(byName('agent'), 'ood-models');
    assert.equal(env.OOD_MODEL_REPOSITORY, `${shared.mountPath}/models`, 'the service reads where the agent copies Models');
    assert.equal(mountOf(ood, 'ood-models').mountPath, shared.mountPath);
    assert.equal(mountOf(ood, 'ood-models').readOnly, true);
    assert.ok(!env.OOD_CACHE_DIR.startsWith(shared.mountPath), 'the cache is written outside the read-only repository');
    assert.ok(mountOf(ood, 'ood-cache') && env.OOD_CACHE_DIR === mountOf(ood, 'ood-cache').mountPath);
    assert.ok(config.spec.volumeClaimTemplates.some((t: any) => t.name === 'ood-models'));
    const ports = (ood.ports as any[]).map((p) => String(p.containerPort));
    for (const port of [env.PORT, env.OOD_GRPC_PORT, env.OOD_METRICS_PORT]) assert.ok(ports.includes(port), `port ${port} is declared`);
  });
});
