import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crdValidator } from './crd-schema.js';

type Manifest = { apiVersion: string; kind: string; [field: string]: unknown };

const validate = crdValidator();

const minimal: Record<string, Manifest> = {
  InferenceService: {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name: 'classifier' },
    spec: { predictor: { model: { modelFormat: { name: 'onnx' }, storageUri: 's3://models/classifier' } } },
  },
  ServingRuntime: {
    apiVersion: 'serving.kserve.io/v1alpha1',
    kind: 'ServingRuntime',
    metadata: { name: 'ood-runtime' },
    spec: {
      supportedModelFormats: [{ name: 'onnx', version: '1', autoSelect: true }],
      protocolVersions: ['v2'],
      containers: [{ name: 'kserve-container', image: 'example.org/ood-service:0.1.0' }],
    },
  },
  InferenceGraph: {
    apiVersion: 'serving.kserve.io/v1alpha1',
    kind: 'InferenceGraph',
    metadata: { name: 'classify-then-score' },
    spec: { nodes: { root: { routerType: 'Sequence', steps: [{ serviceName: 'classifier' }] } } },
  },
  Model: {
    apiVersion: 'mlops.seldon.io/v1alpha1',
    kind: 'Model',
    metadata: { name: 'classifier' },
    spec: { storageUri: 'gs://models/classifier' },
  },
  Pipeline: {
    apiVersion: 'mlops.seldon.io/v1alpha1',
    kind: 'Pipeline',
    metadata: { name: 'classify-then-score' },
    spec: { steps: [{ name: 'classifier' }] },
  },
};

/** A copy of `manifest` with `value` at the slash path, creating objects on the way. */
function withValue(manifest: Manifest, path: string, value: unknown): Manifest {
  const copy = structuredClone(manifest);
  const keys = path.split('/').slice(1);
  let node = copy as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
  return copy;
}

function assertCaught(errors: string[], path: string, fragment: string): void {
  assert.ok(
    errors.some((error) => error.startsWith(`${path} `) && error.includes(fragment)),
    `expected an error at ${path} saying "${fragment}", got:\n${errors.join('\n')}`,
  );
}

const UNKNOWN = 'is not an allowed field';
const WRONG_INTEGER = 'must be integer';
const BAD_ENUM = 'must be equal to one of the allowed values';

// For each kind: [path, value, expected fragment] for a misspelling, a wrong type and a bad enum.
const broken: Record<string, [string, unknown, string][]> = {
  InferenceService: [
    ['/spec/predictor/model/storageURI', 's3://x', UNKNOWN],
    ['/spec/predictor/minReplicas', '1', WRONG_INTEGER],
    ['/spec/predictor/model/protocolVersion', 'v3', BAD_ENUM],
  ],
  ServingRuntime: [
    ['/spec/supportedModelFormat', [], UNKNOWN],
    ['/spec/supportedModelFormats/0/priority', 'high', WRONG_INTEGER],
    ['/spec/protocolVersions/0', 'rest', BAD_ENUM],
  ],
  InferenceGraph: [
    ['/spec/nodes/root/steps/0/dependancy', 'Hard', UNKNOWN],
    ['/spec/timeout', '30s', WRONG_INTEGER],
    ['/spec/nodes/root/routerType', 'Chain', BAD_ENUM],
  ],
  Model: [
    ['/spec/replica', 1, UNKNOWN],
    ['/spec/replicas', '2', WRONG_INTEGER],
    // Upstream Model has no enum field; a range limit stands in for it.
    ['/spec/logger/percent', 150, 'must be <= 100'],
  ],
  Pipeline: [
    ['/spec/steps/0/input', ['a'], UNKNOWN],
    ['/spec/steps/0/joinWindowMs', '500', WRONG_INTEGER],
    ['/spec/steps/0/inputsJoinType', 'left', BAD_ENUM],
  ],
};

describe('crdValidator', () => {
  for (const [kind, manifest] of Object.entries(minimal)) {
    it(`accepts a minimal ${kind}`, () => {
      assert.deepEqual(validate(manifest), []);
    });
    for (const [path, value, fragment] of broken[kind]) {
      it(`${kind}: ${path} = ${JSON.stringify(value)} is reported at its path`, () => {
        assertCaught(validate(withValue(manifest, path, value)), path, fragment);
      });
    }
  }

  it('names an unknown kind instead of passing it', () => {
    assert.deepEqual(validate({ apiVersion: 'serving.kserve.io/v1beta1', kind: 'Predictor' }), [
      'no schema for serving.kserve.io/v1beta1 Predictor',
    ]);
  });

  it('accepts a fuller InferenceService with a transformer container', () => {
    const manifest = withValue(minimal.InferenceService, '/spec/transformer', {
      minReplicas: 1,
      containers: [
        {
          name: 'ood-transformer',
          image: 'example.org/ood-service:0.1.0',
          args: ['serve'],
          env: [
            { name: 'OOD_PORT', value: '8080' },
            { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'ood', key: 'token' } } },
          ],
          ports: [{ containerPort: 8080, name: 'http1', protocol: 'TCP' }],
          resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: 2, memory: '2Gi' } },
          readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 5 },
          volumeMounts: [{ name: 'reference', mountPath: '/data', readOnly: true }],
        },
      ],
    });
    assert.deepEqual(validate(manifest), []);
  });

  it('rejects a fractional CPU quantity, as the API server does for custom resources', () => {
    const manifest = withValue(minimal.InferenceService, '/spec/predictor/model/resources', { limits: { cpu: 0.5 } });
    assertCaught(validate(manifest), '/spec/predictor/model/resources/limits/cpu', 'must be integer,string');
  });

  it('requires a root node and exactly one target per graph step', () => {
    const manifest = withValue(minimal.InferenceGraph, '/spec/nodes', {
      scorer: { routerType: 'Sequence', steps: [{ serviceName: 'a', nodeName: 'b' }] },
    });
    const errors = validate(manifest);
    assertCaught(errors, '/spec/nodes', "must have required property 'root'");
    assertCaught(errors, '/spec/nodes/scorer/steps/0', 'exactly one of nodeName, serviceName, serviceUrl');
  });

  it('accepts a Seldon Pipeline with input, output and batching', () => {
    const manifest = withValue(minimal.Pipeline, '/spec', {
      input: { externalInputs: ['upstream.outputs'], joinType: 'any' },
      steps: [
        { name: 'classifier', batch: { size: 8, windowMs: 100 } },
        { name: 'ood', inputs: ['classifier.outputs'], tensorMap: { 'classifier.outputs.logits': 'x' } },
      ],
      output: { steps: ['classifier', 'ood'], stepsJoin: 'inner' },
    });
    assert.deepEqual(validate(manifest), []);
  });
});
