import { lineChartSvg } from '../report/svg-line-chart.js';
import { SCORES, SCORE_TITLES } from './evaluate-model.js';
import { METRIC_TITLES } from './format.js';
import { adversarialSection, adversarialSummary } from './adversarial-report.js';
import { compare, meanStd, metricOf, oodSets, pm, runsOf, type ResultsInput } from './results-common.js';
import { DATASETS, SEEDS, VARIANTS, variantModelName, type Variant } from './variants.js';

/**
 * Renders docs/results.md from the evaluations of every variant and of the shipped models.
 * Pure: evaluations in, markdown and SVG files out; the verdicts are computed from the numbers,
 * so a rerun with other results cannot leave a stale claim behind.
 */
export interface ResultsOutput {
  markdown: string;
  files: Record<string, string>;
}

function accuracySection(input: ResultsInput): string[] {
  const lines = ['## Accuracy and the conformal bound', ''];
  lines.push('Test accuracy and the share of in-distribution test inputs the service flags at significance 0.05 ' +
    '(mean ± standard deviation over seeds ' + SEEDS.join(', ') + '; the flag share should sit at or below 0.05).', '');
  lines.push('| data | variant | epochs | test accuracy | in-distribution flagged | training time per model (s) |');
  lines.push('| --- | --- | --- | --- | --- | --- |');
  for (const dataset of DATASETS) {
    for (const variant of VARIANTS) {
      const runs = runsOf(input, dataset.name, variant);
      if (runs.length === 0) continue;
      const times = SEEDS.map((s) => input.trainSeconds[variantModelName(dataset.name, variant, s)]).filter((t) => t !== undefined);
      lines.push(`| ${dataset.name} | ${variant.title} | ${dataset.epochs} | ${pm(runs.map((r) => r.accuracy))} | ` +
        `${pm(runs.map((r) => r.inDistributionFlagged))} | ${times.length ? pm(times, 0) : 'n/a'} |`);
    }
  }
  for (const e of input.shipped) {
    lines.push(`| ${e.referenceSet} | shipped model \`${e.model}\` | see its card | ${e.accuracy.toFixed(4)} | ${e.inDistributionFlagged.toFixed(4)} | see its card |`);
  }
  return lines;
}

function oodSection(input: ResultsInput): string[] {
  const lines = ['## OOD detection: every score on every variant', ''];
  lines.push('Positives are in-distribution test inputs (docs/design.md §3). FPR@95TPR is the classic definition ' +
    '(ODIN; Sun et al. 2022): the share of OOD inputs accepted at the threshold that keeps 95% of in-distribution ' +
    'inputs, not OpenOOD v1.5\'s. Each cell is mean ± standard deviation over three seeds; **bold** marks the best ' +
    'mean AUROC of a variant.', '');
  for (const dataset of DATASETS) {
    const first = runsOf(input, dataset.name, VARIANTS[0])[0];
    if (!first) continue;
    for (const set of oodSets(first)) {
      lines.push(`### ${dataset.name} vs ${set.name} (n = ${set.size})`, '');
      lines.push(`| variant | score | ${METRIC_TITLES.map(([, t]) => t).join(' | ')} |`);
      lines.push(`| --- | --- | ${METRIC_TITLES.map(() => '---').join(' | ')} |`);
      for (const variant of VARIANTS) {
        const runs = runsOf(input, dataset.name, variant);
        if (runs.length === 0) continue;
        const best = Math.max(...SCORES.map((s) => meanStd(metricOf(runs, set.name, s, 'auroc')).mean));
        for (const score of SCORES) {
          const cells = METRIC_TITLES.map(([m]) => {
            const text = pm(metricOf(runs, set.name, score, m));
            return m === 'auroc' && meanStd(metricOf(runs, set.name, score, m)).mean === best ? `**${text}**` : text;
          });
          lines.push(`| ${variant.title} | ${SCORE_TITLES[score]} | ${cells.join(' | ')} |`);
        }
      }
      lines.push('');
    }
  }
  return lines;
}

function shippedSection(input: ResultsInput, files: Record<string, string>): string[] {
  const lines = ['## The shipped models', ''];
  lines.push('The models the service serves (`OOD_MODEL=mnist`, `OOD_MODEL=fashion-mnist`), trained longer than the variants. ' +
    'AUROC of each score, and the ROC curves of every score per OOD set.', '');
  for (const e of input.shipped) {
    lines.push(`### \`${e.model}\` (test accuracy ${e.accuracy.toFixed(4)}, in-distribution flagged ${e.inDistributionFlagged.toFixed(4)})`, '');
    lines.push(`| OOD set | service flags | ${SCORES.map((s) => SCORE_TITLES[s]).join(' | ')} |`);
    lines.push(`| --- | --- | ${SCORES.map(() => '---').join(' | ')} |`);
    for (const set of oodSets(e)) {
      const best = Math.max(...SCORES.map((s) => set.metrics[s].auroc));
      const cells = SCORES.map((s) => (set.metrics[s].auroc === best ? `**${set.metrics[s].auroc.toFixed(4)}**` : set.metrics[s].auroc.toFixed(4)));
      lines.push(`| ${set.name} | ${set.flagged.toFixed(4)} | ${cells.join(' | ')} |`);
    }
    lines.push('');
    for (const set of oodSets(e)) {
      const file = `results/roc-${e.model}-vs-${set.name}.svg`;
      files[file] = lineChartSvg({
        title: `ROC: ${e.model} vs ${set.name}`,
        xLabel: 'OOD inputs accepted (FPR)',
        yLabel: 'in-distribution inputs accepted (TPR)',
        series: SCORES.map((s) => ({ name: `${SCORE_TITLES[s]} (${set.metrics[s].auroc.toFixed(3)})`, points: set.roc[s] })),
        xDomain: [0, 1],
        yDomain: [0, 1],
        height: 520,
      });
      lines.push(`![ROC ${e.model} vs ${set.name}](${file})`);
    }
    lines.push('');
  }
  return lines;
}

function entanglementSection(input: ResultsInput, files: Record<string, string>): string[] {
  const lines = ['## Entanglement during training', ''];
  lines.push('SNNL at the temperature that minimises it (the paper\'s reading), per hidden layer and epoch, on a fixed ' +
    'sample of 500 training points; seed 1 of each variant. Higher means more entangled.', '');
  lines.push('SNNL at T* after the last epoch (mean ± standard deviation over seeds):', '');
  const layers = [...new Set(Object.values(input.finalEntanglement).flatMap((r) => Object.keys(r)))];
  lines.push(`| data | variant | ${layers.join(' | ')} |`);
  lines.push(`| --- | --- | ${layers.map(() => '---').join(' | ')} |`);
  for (const dataset of DATASETS) {
    for (const variant of VARIANTS) {
      const rows = SEEDS.map((s) => input.finalEntanglement[variantModelName(dataset.name, variant, s)]).filter((r) => r !== undefined);
      if (rows.length === 0) continue;
      lines.push(`| ${dataset.name} | ${variant.title} | ${layers.map((l) => pm(rows.map((r) => r[l]))).join(' | ')} |`);
    }
  }
  lines.push('');
  for (const [name, svg] of Object.entries(input.entanglementSvgs)) {
    const file = `results/entanglement-${name}.svg`;
    files[file] = svg;
    lines.push(`![entanglement ${name}](${file})`);
  }
  return lines;
}

/** Compares each SNNL variant with cross-entropy on the numbers above, in plain words. */
function verdictSection(input: ResultsInput): string[] {
  const lines = ['## Do the paper\'s claims hold here?', ''];
  lines.push('Computed from the tables below: a difference counts only when the means differ by more than the ' +
    'larger of the two standard deviations over seeds. The paper claims that maximising SNNL in the hidden layers ' +
    '(a negative factor) entangles them, generalises better, and makes outliers easier to see.', '');
  const [ce, ...snnl] = VARIANTS;
  const tally = { pairs: 0, accBetter: 0, accWorse: 0, serviceBetter: 0, serviceWorse: 0, baselineBetter: 0, baselineWorse: 0 };
  for (const dataset of DATASETS) {
    const base = runsOf(input, dataset.name, ce);
    if (base.length === 0) continue;
    for (const variant of snnl) {
      const runs = runsOf(input, dataset.name, variant);
      if (runs.length === 0) continue;
      const acc = compare(base.map((r) => r.accuracy), runs.map((r) => r.accuracy));
      const accWord = !acc.clear ? 'no clear change in' : acc.delta > 0 ? 'better' : 'worse';
      tally.pairs++;
      if (acc.clear) tally[acc.delta > 0 ? 'accBetter' : 'accWorse']++;
      const layerSnnl = (v: Variant, layer: string) =>
        SEEDS.map((seed) => input.finalEntanglement[variantModelName(dataset.name, v, seed)]?.[layer]).filter(
          (x): x is number => x !== undefined,
        );
      const layers = Object.keys(input.finalEntanglement[variantModelName(dataset.name, variant, SEEDS[0])] ?? {});
      const entanglement = layers.map((layer) => {
        const c = compare(layerSnnl(ce, layer), layerSnnl(variant, layer));
        const word = !c.clear ? 'no clear change' : c.delta > 0 ? 'more entangled' : 'less entangled';
        return `${layer} ${word} (${c.delta >= 0 ? '+' : ''}${c.delta.toFixed(3)})`;
      });
      lines.push(`- **${dataset.name}, ${variant.title}**: ${accWord} test accuracy ` +
        `(${acc.delta >= 0 ? '+' : ''}${(acc.delta * 100).toFixed(2)} points); SNNL at T* against cross-entropy alone: ` +
        `${entanglement.length ? entanglement.join(', ') : 'not measured'}.`);
      for (const score of SCORES) {
        const sets = oodSets(base[0]).map((s) => s.name);
        const verdicts = sets.map((set) => {
          const c = compare(metricOf(base, set, score, 'auroc'), metricOf(runs, set, score, 'auroc'));
          if (c.clear && score === 'service') tally[c.delta > 0 ? 'serviceBetter' : 'serviceWorse']++;
          if (c.clear && score !== 'service') tally[c.delta > 0 ? 'baselineBetter' : 'baselineWorse']++;
          return c.clear ? (c.delta > 0 ? `better on ${set}` : `worse on ${set}`) : null;
        }).filter((v): v is string => v !== null);
        lines.push(`  - ${SCORE_TITLES[score]} AUROC: ${verdicts.length ? verdicts.join(', ') : 'no clear change on any OOD set'}.`);
      }
    }
  }
  if (tally.pairs > 0) {
    const holds = tally.accBetter > tally.accWorse && tally.serviceBetter > tally.serviceWorse;
    const fails = tally.accBetter <= tally.accWorse && tally.serviceBetter <= tally.serviceWorse;
    lines.push(
      '',
      `**In short.** Over ${tally.pairs} (data set, SNNL factor) pairs, the regulariser raised test accuracy clearly in ` +
        `${tally.accBetter} and lowered it in ${tally.accWorse}. The service's outlier score got clearly better on ` +
        `${tally.serviceBetter} (pair, OOD set) combinations and worse on ${tally.serviceWorse}; the five baselines ` +
        `together got better on ${tally.baselineBetter} and worse on ${tally.baselineWorse}. ` +
        (holds
          ? 'With these settings the paper\'s claims of better generalisation and easier-to-see outliers hold.'
          : fails
            ? 'With these settings the paper\'s claims of better generalisation and easier-to-see outliers do not hold: ' +
              'entangling the hidden layers did not help the classifier, nor the detector this service ships.'
            : 'With these settings the evidence for the paper\'s claims is mixed.'),
    );
  }
  return lines;
}

export function renderResults(input: ResultsInput): ResultsOutput {
  const files: Record<string, string> = {};
  const trainTotal = Object.values(input.trainSeconds).reduce((a, b) => a + b, 0);
  const adversarial = adversarialSummary(input);
  const lines = [
    '# Reproducing the SNNL paper: entanglement, entangled training and OOD detection',
    '',
    'Generated by:',
    '',
    '```',
    input.trainCommand + `   # trains every variant: ${(trainTotal / 60).toFixed(1)} min in all on this machine`,
    input.command + `   # evaluates them from a cold cache and writes this page: ${(input.evaluationSeconds / 60).toFixed(1)} min`,
    '```',
    '',
    `Machine: ${input.machine}. Variants: ${VARIANTS.map((v) => v.title).join(', ')}; seeds ${SEEDS.join(', ')}; ` +
      `${DATASETS.map((d) => `${d.name} ${d.epochs} epochs`).join(', ')}; every model is an MLP with hidden layers 256-128-64, ` +
      'SNNL on every hidden layer with T0 = 100 and the inverse temperature stepped each batch (the reference implementation).',
    '',
    ...verdictSection(input),
    ...(adversarial ? ['', `**Adversarial inputs** ([below](#adversarial-inputs)). ${adversarial}`] : []),
    '',
    ...accuracySection(input),
    '',
    ...entanglementSection(input, files),
    '',
    ...shippedSection(input, files),
    '',
    ...oodSection(input),
    '',
    ...adversarialSection(input, files),
  ];
  return { markdown: `${lines.join('\n')}\n`, files };
}
