import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SCORES, type ModelEvaluation, type ScoreName } from '../../src/evaluation/evaluate-model.js';
import { meanStd } from '../../src/evaluation/results-common.js';
import { renderResults } from '../../src/evaluation/results-report.js';
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

  it('renders the adversarial section: variants, a verdict by the same rule, the shipped tables and the budget plot', () => {
    const mnist = DATASETS[0].name;
    /** An evaluation with one natural set and adversarial sets at the given service AUROCs and success rates. */
    const withAttacks = (model: string, attacks: { eps: number; auroc: number; success: number }[]): ModelEvaluation => {
      const e = evaluation(model, 0.95, 0.9);
      const perScore = (auroc: number) => Object.fromEntries(SCORES.map((s) => [s, metrics(s === 'service' ? auroc : 0.7)])) as Record<ScoreName, OodMetrics>;
      for (const a of attacks) {
        e.sets.push({
          name: `pgd10-linf-eps${a.eps}`,
          size: 100,
          flagged: a.auroc - 0.1,
          layerFlagged: { input: a.eps, hidden1: 0.5 },
          metrics: perScore(a.auroc),
          roc: {} as Record<ScoreName, [number, number][]>,
          attack: { method: 'pgd', eps: a.eps, norm: 'linf', steps: 10, attacked: 200, successRate: a.success },
        });
      }
      return e;
    };
    const variants: Record<string, ModelEvaluation> = {};
    SEEDS.forEach((seed, i) => {
      const jitter = i * 0.001;
      variants[variantModelName(mnist, VARIANTS[0], seed)] = withAttacks('ce', [{ eps: 0.05, auroc: 0.9 + jitter, success: 0.5 }, { eps: 0.1, auroc: 0.8 + jitter, success: 0.9 }]);
      // SNNL -1: clearly better AUROC on both; SNNL -10: clearly worse on the first, same on the second.
      variants[variantModelName(mnist, VARIANTS[1], seed)] = withAttacks('a', [{ eps: 0.05, auroc: 0.95 + jitter, success: 0.5 }, { eps: 0.1, auroc: 0.85 + jitter, success: 0.9 }]);
      variants[variantModelName(mnist, VARIANTS[2], seed)] = withAttacks('b', [{ eps: 0.05, auroc: 0.8 + jitter, success: 0.7 }, { eps: 0.1, auroc: 0.8 + jitter, success: 0.9 }]);
    });
    const shipped = withAttacks('mnist', [{ eps: 0.05, auroc: 0.99, success: 0.6 }, { eps: 0.1, auroc: 0.97, success: 0.95 }]);
    const { markdown, files } = renderResults({
      variants,
      shipped: [shipped],
      trainSeconds: {},
      entanglementSvgs: {},
      finalEntanglement: {},
      evaluationSeconds: 1,
      command: 'npm run results',
      trainCommand: 'npm run train:variants',
      machine: 'test machine',
    });
    assert.match(markdown, /## Adversarial inputs/);
    assert.match(markdown, /\*\*mnist, SNNL factor -1\*\* against cross-entropy: pgd10-linf-eps0\.05: service AUROC better \(\+0\.050\); pgd10-linf-eps0\.1: service AUROC better/);
    assert.match(markdown, /\*\*mnist, SNNL factor -10\*\* against cross-entropy: pgd10-linf-eps0\.05: service AUROC worse \(-0\.100\), the attack more successful; pgd10-linf-eps0\.1: service AUROC no clear change\./);
    assert.match(markdown, /Over 4 \(data set, SNNL factor, attack\) comparisons the service's AUROC got clearly better in 2 and worse in 1; the attacks got clearly more successful in 1 and less in 0: the SNNL variants made adversarial inputs easier/);
    // The same tally also sits with the page's summary of the claims, before the first table.
    const summary = markdown.indexOf('**Adversarial inputs** ([below](#adversarial-inputs)). Over 4 (data set');
    assert.ok(summary > 0 && summary < markdown.indexOf('## Accuracy and the conformal bound'));
    assert.match(markdown, /\| pgd10-linf-eps0\.05 \| SNNL factor -1 \| 0\.5000 ± 0\.0000 \| 0\.8510 ± 0\.0010 \| 0\.9510 ± 0\.0010 \| max softmax: 0\.7000 ± 0\.0000 \|/);
    assert.match(markdown, /\| 0\.1 \| 0\.9500 \| 0\.8700 \| 0\.1000 \| 0\.5000 \|/);
    assert.ok(files['results/attack-budget-mnist.svg']?.includes('service flags'));
    // The natural OOD sections leave the adversarial sets out.
    assert.doesNotMatch(markdown, /### mnist vs pgd10/);
  });
});
