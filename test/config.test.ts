import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENV_NAMES, loadConfig } from '../src/config.js';
import { flattenSettings } from '../src/settings.js';
import { detectorSettings } from '../src/detector-settings.js';
import { DETECTOR_SETTINGS, defaultWorkerThreads } from '../src/detector/settings.js';
import { OodError } from '../src/errors.js';

describe('loadConfig', () => {
  it('has a default for everything', () => {
    assert.deepEqual(loadConfig({}), {
      port: 8080,
      host: '0.0.0.0',
      grpcPort: 8081,
      model: 'mnist',
      models: ['mnist'],
      modelsDir: 'models',
      referenceSetsDir: 'reference-sets',
      cacheDir: '.cache',
      k: 75,
      significance: 0.05,
      maxBatch: 256,
      bodyLimitBytes: 8 * 1024 * 1024,
      logLevel: 'info',
      labelWeight: 0.1,
      efSearch: 100,
      neighbors: 'usearch',
      batching: { maxRows: 64, maxDelayMs: 0 },
      apiTokens: [],
      loadShedding: { maxEventLoopDelayMs: 1000, maxHeapUsedBytes: 0, retryAfterSeconds: 1 },
      shutdownTimeoutMs: 10_000,
      drainDelayMs: 500,
      reviewSize: 0,
      driftDelta: 0.01,
      repositoryTrustLoopback: false,
      // Counted from the machine's cores when the settings are read.
      buildThreads: defaultWorkerThreads(),
      scoringThreads: defaultWorkerThreads(),
    });
  });

  it('reads every variable once, the detector\'s included: a server setting of the same key would hide one', () => {
    const declared = flattenSettings(DETECTOR_SETTINGS).map(({ setting }) => setting.env);
    for (const env of declared) assert.ok(ENV_NAMES.includes(env), env);
    assert.equal(new Set(ENV_NAMES).size, ENV_NAMES.length);
  });

  it("hands the detector every setting it declares, as parsed, with no line per setting", () => {
    const config = loadConfig({ OOD_K: '9', OOD_HNSW_EF_SEARCH: '33', OOD_SCORING_THREADS: '3', OOD_NEIGHBORS: 'hnswlib', OOD_CACHE_DIR: '/tmp/x' });
    const settings = detectorSettings({ ...config, model: 'blobs' });
    for (const key of Object.keys(DETECTOR_SETTINGS) as (keyof typeof DETECTOR_SETTINGS)[]) {
      assert.deepEqual(settings[key], config[key], key);
    }
    assert.deepEqual(
      { k: settings.k, efSearch: settings.efSearch, scoringThreads: settings.scoringThreads, neighbors: settings.neighbors, cacheDir: settings.cacheDir },
      { k: 9, efSearch: 33, scoringThreads: 3, neighbors: 'hnswlib', cacheDir: '/tmp/x' },
    );
    assert.equal(settings.model, 'blobs');
    assert.equal(settings.keepReferences, false);
    assert.equal(detectorSettings(loadConfig({ OOD_REVIEW_SIZE: '5' })).keepReferences, true);
  });

  it('reads every variable and treats empty ones as unset', () => {
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      OOD_MODEL: 'fashion-mnist_v2.1',
      OOD_MODELS_DIR: '/srv/models',
      OOD_REFERENCE_SETS_DIR: '/srv/refs',
      OOD_CACHE_DIR: '/tmp/c',
      OOD_K: '10',
      OOD_SIGNIFICANCE: '1e-2',
      OOD_MAX_BATCH: '32',
      OOD_BODY_LIMIT_BYTES: '1024',
      LOG_LEVEL: 'debug',
      OOD_BACKEND: '',
      OOD_LABEL_WEIGHT: '0.25',
      OOD_HNSW_EF_SEARCH: '200',
      OOD_BATCH_MAX_ROWS: '16',
      OOD_BATCH_DELAY_MS: '2',
      OOD_METRICS_PORT: '9464',
      OOD_SHUTDOWN_TIMEOUT_MS: '2500',
      OOD_DRIFT_DELTA: '0.001',
      UNRELATED: 'ignored',
    });
    assert.equal(config.port, 0);
    assert.equal(config.model, 'fashion-mnist_v2.1');
    assert.equal(config.k, 10);
    assert.equal(config.significance, 0.01);
    assert.equal(config.driftDelta, 0.001);
    assert.equal(config.bodyLimitBytes, 1024);
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.labelWeight, 0.25);
    assert.equal(config.efSearch, 200);
    assert.deepEqual(config.batching, { maxRows: 16, maxDelayMs: 2 });
    assert.equal(config.metricsPort, 9464);
    assert.equal(config.shutdownTimeoutMs, 2500);
    assert.equal('metricsPort' in loadConfig({}), false);
    assert.equal('backend' in config, false);
    assert.equal(loadConfig({ OOD_BACKEND: 'wasm' }).backend, 'wasm');
  });

  const bad: Array<[string, string]> = [
    ['PORT', 'http'],
    ['PORT', '70000'],
    ['PORT', '0x50'],
    ['OOD_MODEL', '../etc'],
    ['OOD_MODEL', 'a/b'],
    ['OOD_MODEL', 'MNIST'],
    ['OOD_K', '0'],
    ['OOD_LABEL_WEIGHT', '0'],
    ['OOD_LABEL_WEIGHT', '1'],
    ['OOD_HNSW_EF_SEARCH', '0'],
    ['OOD_METRICS_PORT', '65536'],
    ['OOD_SHUTDOWN_TIMEOUT_MS', '0'],
    ['OOD_DRAIN_DELAY_MS', '-1'],
    ['OOD_K', '7.5'],
    ['OOD_SIGNIFICANCE', '0'],
    ['OOD_SIGNIFICANCE', '1'],
    ['OOD_SIGNIFICANCE', 'five percent'],
    ['OOD_DRIFT_DELTA', '0'],
    ['OOD_DRIFT_DELTA', '1'],
    ['OOD_MAX_BATCH', '-1'],
    ['OOD_BODY_LIMIT_BYTES', '8MiB'],
    ['LOG_LEVEL', 'loud'],
    ['OOD_BACKEND', 'webgpu'],
    ['OOD_SCORING_THREADS', '257'],
    ['OOD_GRPC_PORT', '65536'],
    ['OOD_BUILD_THREADS', '0'],
    ['OOD_NEIGHBORS', 'faiss'],
  ];
  for (const [name, value] of bad) {
    it(`rejects ${name}=${value}, naming the variable`, () => {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (err: unknown) =>
          err instanceof OodError && err.code === 'CONFIG_INVALID' && err.message.includes(`${name}=`),
      );
    });
  }

  it('refuses a metrics port equal to the API port', () => {
    assert.throws(() => loadConfig({ PORT: '9000', OOD_METRICS_PORT: '9000' }), /OOD_METRICS_PORT \(9000\) must differ from PORT/);
    assert.throws(() => loadConfig({ OOD_METRICS_PORT: '8080' }), /must differ from PORT/);
  });

  it('refuses a drain delay that the shutdown timeout would cut short', () => {
    assert.throws(
      () => loadConfig({ OOD_DRAIN_DELAY_MS: '10000', OOD_SHUTDOWN_TIMEOUT_MS: '5000' }),
      /OOD_DRAIN_DELAY_MS \(10000\) must be below OOD_SHUTDOWN_TIMEOUT_MS \(5000\)/,
    );
    assert.equal(loadConfig({ OOD_DRAIN_DELAY_MS: '0', OOD_SHUTDOWN_TIMEOUT_MS: '1' }).drainDelayMs, 0);
  });

  it('starts a model repository with no model, and refuses one beside models named at start', () => {
    const config = loadConfig({ OOD_MODEL_REPOSITORY: '/mnt/agent/models' });
    assert.equal(config.modelRepository, '/mnt/agent/models');
    assert.deepEqual(config.models, []);
    assert.throws(() => loadConfig({ OOD_MODEL_REPOSITORY: '/r', OOD_MODEL: 'mnist' }), /OOD_MODEL_REPOSITORY .* while OOD_MODEL names models/);
    assert.throws(() => loadConfig({ OOD_MODEL_REPOSITORY: '/r', OOD_MODELS: 'a,b' }), /while OOD_MODELS names models .*set one or the other/);
    assert.equal(loadConfig({ OOD_MODEL_REPOSITORY: '', OOD_MODEL: 'mnist' }).modelRepository, undefined, 'empty is unset');
  });

  it('lists the valid backends when the backend is unknown', () => {
    assert.throws(() => loadConfig({ OOD_BACKEND: 'gpu' }), /tensorflow.*wasm.*cpu/);
  });
});
