import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SCORES, type ModelEvaluation, type ScoreName } from '../../src/evaluation/evaluate-model.js';
import { meanStd, renderResults } from '../../src/evaluation/results-report.js';
import { DATASETS, SEEDS, VARIANTS, variantModelName } from '../../src/evaluation/variants.js';
import type { OodMetrics } from '../../src/math/ood-metrics.js';

function metrics(auroc: number): OodMetrics {
  return { auroc, fprAt95Tpr: 1 - auroc, auprIn: auroc, auprOut: auroc, detectionError: (1 - auroc) / 2 };
}

function evaluation(model: string, accuracy: number, serviceAuroc: number): ModelEvaluation {
  const perScore = Object.fromEntries(SCORES.map((s) => [s, metrics(s === 'service' ? serviceAuroc : 0.8)])) as Record<ScoreName, OodMetrics>;
  const roc = Object.fromEntries(SCORES.map((s) => [s, [[0, 0], [1, 1]]])) as Record<ScoreName, [number, number][]>;
  return {
    model,
    referenceSet: 'mnist',
    accuracy,
    testSize: 100,
    inDistributionFlagged: 0.04,
    sets: [{ name: 'uniform-noise', size: 50, flagged: 1, metrics: perScore, roc }],
    seconds: 1,
  };
}

describe('results report', () => {
  it('meanStd uses the sample standard deviation', () => {
    const { mean, std } = meanStd([1, 2, 3, 4]);
    assert.equal(mean, 2.5);
    assert.ok(Math.abs(std - Math.sqrt(5 / 3)) < 1e-12);
    assert.deepEqual(meanStd([7]), { mean: 7, std: 0 });
  });

  it('renders tables and verdicts computed from the numbers', () => {
    const variants: Record<string, ModelEvaluation> = {};
    const mnist = DATASETS[0].name;
    SEEDS.forEach((seed, i) => {
      // SNNL -1: clearly better service AUROC, same accuracy; SNNL -10: clearly worse accuracy.
      variants[variantModelName(mnist, VARIANTS[0], seed)] = evaluation(`ce${seed}`, 0.95 + i * 0.001, 0.9 + i * 0.001);
      variants[variantModelName(mnist, VARIANTS[1], seed)] = evaluation(`a${seed}`, 0.95 + i * 0.001, 0.99 + i * 0.001);
      variants[variantModelName(mnist, VARIANTS[2], seed)] = evaluation(`b${seed}`, 0.9 + i * 0.001, 0.9 + i * 0.001);
    });
    const { markdown, files } = renderResults({
      variants,
      shipped: [evaluation('mnist', 0.954, 0.99)],
      trainSeconds: { [variantModelName(mnist, VARIANTS[0], 1)]: 60 },
      entanglementSvgs: { x: '<svg/>' },
      finalEntanglement: Object.fromEntries(
        SEEDS.flatMap((s) => [
          [variantModelName(mnist, VARIANTS[0], s), { hidden1: 0.1 * s }],
          [variantModelName(mnist, VARIANTS[1], s), { hidden1: 0.9 + 0.01 * s }],
          [variantModelName(mnist, VARIANTS[2], s), { hidden1: 0.1 * s }],
        ]),
      ),
      evaluationSeconds: 120,
      command: 'npm run results',
      trainCommand: 'npm run train:variants',
      machine: 'test machine',
    });
    assert.match(markdown, /npm run results {3}# evaluates them from a cold cache and writes this page: 2\.0 min/);
    assert.match(
      markdown,
      /\*\*mnist, SNNL factor -1\*\*: no clear change in test accuracy \(\+0\.00 points\); SNNL at T\* against cross-entropy alone: hidden1 more entangled \(\+0\.720\)/,
    );
    assert.match(markdown, /service outlier_score AUROC: better on uniform-noise/);
    assert.match(markdown, /Over 2 \(data set, SNNL factor\) pairs, the regulariser raised test accuracy clearly in 0 and lowered it in 1\. The service's outlier score got clearly better on 1 .* evidence for the paper's claims is mixed\./);
    assert.match(markdown, /\*\*mnist, SNNL factor -10\*\*: worse test accuracy \(-5\.00 points\); SNNL at T\* against cross-entropy alone: hidden1 no clear change \(\+0\.000\)/);
    assert.match(markdown, /\| cross-entropy only \| service outlier_score \| \*\*0\.9010 ± 0\.0010\*\*/);
    assert.ok(files['results/roc-mnist-vs-uniform-noise.svg']?.startsWith('<svg'));
    assert.equal(files['results/entanglement-x.svg'], '<svg/>');
    assert.match(markdown, /\| mnist \| cross-entropy only \| 0\.2000 ± 0\.1000 \|/);
  });
});
