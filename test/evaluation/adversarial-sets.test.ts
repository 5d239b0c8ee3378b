import assert from 'node:assert/strict';
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

const silent: Log = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} } as never;

/** Adversarial sets in the evaluation of the embedded mnist model, beside (here, instead of) the OOD sets. */
describe('evaluateModel with attacks', () => {
  let cacheDir: string;
  let evaluation: ModelEvaluation;

  before(async () => {
    await initBackend('wasm');
    cacheDir = await mkdtemp(join(tmpdir(), 'ood-adv-'));
    evaluation = await evaluateModel(
      { ...detectorSettings(loadConfig({})), cacheDir },
      // A budget of 1e-6 changes no digit's class.
      { limit: 300, seed: 3, partner: 'none', attacks: [{ method: 'fgsm', eps: 0.2 }, { method: 'fgsm', eps: 1e-6 }], attackLimit: 150 },
      silent,
    );
  });
  after(() => rm(cacheDir, { recursive: true, force: true }));

  it('scores the inputs each attack fooled the model with, with its success rate', () => {
    const set = evaluation.sets.find((s) => s.name === 'fgsm-linf-eps0.2');
    assert.ok(set?.attack, evaluation.sets.map((s) => s.name).join(', '));
    assert.ok(set.attack.attacked > 130 && set.attack.attacked <= 150, `attacked ${set.attack.attacked}`);
    assert.equal(set.size, Math.round(set.attack.successRate * set.attack.attacked));
    assert.ok(set.attack.successRate > 0.9, `success ${set.attack.successRate}`);
    for (const score of SCORES) assert.ok(Number.isFinite(set.metrics[score].auroc), score);
    assert.deepEqual(Object.keys(set.layerFlagged ?? {}), ['input', 'hidden1', 'hidden2', 'hidden3']);
    assert.match(evaluationMarkdown(evaluation), /fgsm-linf-eps0\.2 \(n = \d+, service flags [01]\.\d{4}; the attack changed the class of [01]\.\d{4} of 1\d\d test inputs/);
  });

  it('reports an attack that changed nothing with its success rate and no scores', () => {
    const set = evaluation.sets.find((s) => s.name === 'fgsm-linf-eps0.000001');
    assert.ok(set?.attack);
    assert.equal(set.attack.successRate, 0);
    assert.equal(set.size, 0);
    assert.ok(Number.isNaN(set.metrics.service.auroc));
  });

  it('flags in each layer about the significance of in-distribution inputs, so the per-layer shares compare with it', () => {
    // The thresholds are the in-distribution (1 - 0.05) quantiles: the noise sets are far above.
    const noise = evaluation.sets.find((s) => s.name === 'uniform-noise');
    assert.ok(noise?.layerFlagged);
    for (const share of Object.values(noise.layerFlagged)) assert.ok(share > 0.9, `uniform noise flagged ${share}`);
  });
});
