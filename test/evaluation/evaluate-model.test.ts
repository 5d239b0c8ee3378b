import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { detectorSettings } from '../../src/detector-settings.js';
import { SCORES, evaluateModel, type ModelEvaluation } from '../../src/evaluation/evaluate-model.js';
import { evaluationMarkdown } from '../../src/evaluation/format.js';
import type { Log } from '../../src/log.js';
import { initBackend } from '../../src/model/backend.js';
import { DEFAULT_IDX_DIR } from '../../src/reference/manifest.js';

const silent: Log = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} } as never;

/**
 * The bar for the service's own score: on the shipped default model it is at least as
 * good as every baseline, on every OOD pair, measured on the same inputs.
 */
describe('evaluateModel on the embedded mnist model', { skip: !existsSync(DEFAULT_IDX_DIR) && !process.env.CI ? 'Fashion-MNIST is not installed (apt-get install -y dataset-fashion-mnist)' : false }, () => {
  let cacheDir: string;
  let evaluation: ModelEvaluation;

  before(async () => {
    await initBackend('wasm');
    cacheDir = await mkdtemp(join(tmpdir(), 'ood-eval-'));
    evaluation = await evaluateModel({ ...detectorSettings(loadConfig({})), cacheDir }, { limit: 400, seed: 3 }, silent);
  });

  after(async () => {
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('covers every OOD set with every score and finite metrics', () => {
    assert.deepEqual(
      evaluation.sets.map((s) => s.name),
      ['fashion-mnist', 'uniform-noise', 'gaussian-noise', 'inverted-mnist', 'rotated-mnist'],
    );
    assert.ok(evaluation.accuracy > 0.9);
    for (const set of evaluation.sets) {
      for (const score of SCORES) {
        for (const value of Object.values(set.metrics[score])) assert.ok(Number.isFinite(value), `${set.name} ${score}`);
        assert.deepEqual(set.roc[score][0], [0, 0]);
        assert.deepEqual(set.roc[score].at(-1), [1, 1]);
      }
    }
    assert.match(evaluationMarkdown(evaluation), /#### mnist vs rotated-mnist \(n = 400/);
  });

  it('ranks the service score at least as high as every baseline on every pair', () => {
    for (const set of evaluation.sets) {
      const service = set.metrics.service.auroc;
      for (const score of SCORES) {
        assert.ok(service >= set.metrics[score].auroc, `${set.name}: service ${service} < ${score} ${set.metrics[score].auroc}`);
      }
    }
  });

  it('keeps the conformal bound on in-distribution inputs', () => {
    assert.ok(evaluation.inDistributionFlagged <= 0.08, `flagged ${evaluation.inDistributionFlagged}`);
  });
});
