import type { OodMetrics } from '../math/ood-metrics.js';
import { SCORES, SCORE_TITLES, type ModelEvaluation } from './evaluate-model.js';

export const METRIC_TITLES: [keyof OodMetrics, string][] = [
  ['auroc', 'AUROC ↑'],
  ['fprAt95Tpr', 'FPR@95TPR ↓'],
  ['auprIn', 'AUPR-In ↑'],
  ['auprOut', 'AUPR-Out ↑'],
  ['detectionError', 'detection error ↓'],
];

const f4 = (x: number) => (Number.isNaN(x) ? 'n/a' : x.toFixed(4));

/** One model's evaluation as markdown: a table per OOD set, a row per score. */
export function evaluationMarkdown(e: ModelEvaluation): string {
  const lines = [
    `Model \`${e.model}\` on \`${e.referenceSet}\`: test accuracy ${f4(e.accuracy)}, ` +
      `in-distribution test inputs flagged ${f4(e.inDistributionFlagged)} (n = ${e.testSize}); ${e.seconds.toFixed(1)} s.`,
  ];
  for (const set of e.sets) {
    const attack = set.attack
      ? `; the attack changed the class of ${f4(set.attack.successRate)} of ${set.attack.attacked} test inputs, and the set holds those it changed`
      : '';
    lines.push('', `#### ${e.referenceSet} vs ${set.name} (n = ${set.size}, service flags ${f4(set.flagged)}${attack})`, '');
    if (set.layerFlagged) {
      const layers = Object.entries(set.layerFlagged).map(([layer, share]) => `${layer} ${f4(share)}`);
      lines.push(`Flagged by one layer's nearest-neighbour distance alone: ${layers.join(', ')}.`, '');
    }
    lines.push(`| score | ${METRIC_TITLES.map(([, t]) => t).join(' | ')} |`);
    lines.push(`| --- | ${METRIC_TITLES.map(() => '---').join(' | ')} |`);
    for (const score of SCORES) {
      lines.push(`| ${SCORE_TITLES[score]} | ${METRIC_TITLES.map(([m]) => f4(set.metrics[score][m])).join(' | ')} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}
