import { attackName, AttackSpecSchema, type AttackSpecInput } from '../attack/gradient-attack.js';
import { lineChartSvg } from '../report/svg-line-chart.js';
import { SCORES, SCORE_TITLES, STANDARD_ATTACKS, type ModelEvaluation, type SetEvaluation } from './evaluate-model.js';
import { compare, meanStd, pm, runsOf, type ResultsInput } from './results-common.js';
import { DATASETS, VARIANTS } from './variants.js';

/** PGD budgets the shipped models are swept over, for the flag rate against the budget. */
export const BUDGET_ATTACKS: AttackSpecInput[] = [0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2].map((eps) => ({ method: 'pgd', eps }));

/** What the shipped models are evaluated with: the standard attacks and the sweep, each once. */
export const SHIPPED_ATTACKS: AttackSpecInput[] = [...STANDARD_ATTACKS, ...BUDGET_ATTACKS].filter(
  (a, i, all) => all.findIndex((b) => attackName(AttackSpecSchema.parse(b)) === attackName(AttackSpecSchema.parse(a))) === i,
);

const attackSets = (e: ModelEvaluation) => e.sets.filter((s): s is SetEvaluation & { attack: NonNullable<SetEvaluation['attack']> } => !!s.attack);
const f = (x: number, digits = 4) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

/** Values of one adversarial set across runs, skipping runs without it. */
function across(runs: ModelEvaluation[], set: string, pick: (s: SetEvaluation & { attack: NonNullable<SetEvaluation['attack']> }) => number): number[] {
  return runs.flatMap((r) => attackSets(r).filter((s) => s.name === set).map(pick)).filter((v) => Number.isFinite(v));
}

/** The attacks every variant of a data set was evaluated with, in order. */
function variantAttacks(input: ResultsInput, dataset: string): string[] {
  const first = runsOf(input, dataset, VARIANTS[0])[0];
  return first ? attackSets(first).map((s) => s.name) : [];
}

function variantTables(input: ResultsInput): string[] {
  const lines: string[] = [];
  for (const dataset of DATASETS) {
    const names = variantAttacks(input, dataset.name);
    if (names.length === 0) continue;
    lines.push(`### ${dataset.name}: the variants`, '');
    lines.push('| attack | variant | attack success | service flags | service AUROC | best baseline AUROC |');
    lines.push('| --- | --- | --- | --- | --- | --- |');
    for (const name of names) {
      for (const variant of VARIANTS) {
        const runs = runsOf(input, dataset.name, variant);
        if (runs.length === 0) continue;
        const baselines = SCORES.filter((s) => s !== 'service').map((score) => ({ score, values: across(runs, name, (s) => s.metrics[score].auroc) }));
        const best = baselines.reduce((a, b) => (meanStd(b.values).mean > meanStd(a.values).mean ? b : a));
        lines.push(
          `| ${name} | ${variant.title} | ${pm(across(runs, name, (s) => s.attack.successRate))} | ${pm(across(runs, name, (s) => s.flagged))} | ` +
            `${pm(across(runs, name, (s) => s.metrics.service.auroc))} | ${SCORE_TITLES[best.score]}: ${pm(best.values)} |`,
        );
      }
    }
    lines.push('');
  }
  return lines;
}

/**
 * Does entangled training make adversarial inputs easier for the service to see? Same rule as the
 * rest of the page: a line per (data set, SNNL factor), and the tally over them.
 */
function verdict(input: ResultsInput): { lines: string[]; summary?: string } {
  const lines: string[] = [];
  const [ce, ...snnl] = VARIANTS;
  const tally = { better: 0, worse: 0, compared: 0, harder: 0, easier: 0 };
  for (const dataset of DATASETS) {
    const base = runsOf(input, dataset.name, ce);
    const names = variantAttacks(input, dataset.name);
    if (base.length === 0 || names.length === 0) continue;
    for (const variant of snnl) {
      const runs = runsOf(input, dataset.name, variant);
      if (runs.length === 0) continue;
      const words = names.map((name) => {
        const before = across(base, name, (s) => s.metrics.service.auroc);
        const after = across(runs, name, (s) => s.metrics.service.auroc);
        if (before.length === 0 || after.length === 0) return `${name}: not comparable (no inputs fooled on one side)`;
        const auroc = compare(before, after);
        const success = compare(across(base, name, (s) => s.attack.successRate), across(runs, name, (s) => s.attack.successRate));
        tally.compared++;
        if (auroc.clear) tally[auroc.delta > 0 ? 'better' : 'worse']++;
        if (success.clear) tally[success.delta > 0 ? 'easier' : 'harder']++;
        const a = auroc.clear ? `service AUROC ${auroc.delta > 0 ? 'better' : 'worse'} (${auroc.delta >= 0 ? '+' : ''}${auroc.delta.toFixed(3)})` : 'service AUROC no clear change';
        const b = success.clear ? `, the attack ${success.delta > 0 ? 'more' : 'less'} successful` : '';
        return `${name}: ${a}${b}`;
      });
      lines.push(`- **${dataset.name}, ${variant.title}** against cross-entropy: ${words.join('; ')}.`);
    }
  }
  if (tally.compared === 0) return { lines };
  const claim =
    tally.better > tally.worse
      ? 'the SNNL variants made adversarial inputs easier for the service to see more often than harder'
      : tally.better < tally.worse
        ? 'the SNNL variants made adversarial inputs harder for the service to see more often than easier'
        : 'the SNNL variants made adversarial inputs neither clearly easier nor clearly harder for the service to see';
  const summary =
    `Over ${tally.compared} (data set, SNNL factor, attack) comparisons the service's AUROC got clearly better in ` +
    `${tally.better} and worse in ${tally.worse}; the attacks got clearly more successful in ${tally.easier} and less in ${tally.harder}: ${claim}.`;
  return { lines: [...lines, '', `**In short.** ${summary}`], summary };
}

/** The adversarial verdict's tally, for the page's summary of the claims; undefined without comparable runs. */
export function adversarialSummary(input: ResultsInput): string | undefined {
  return verdict(input).summary;
}

/**
 * Per shipped model: every score per attack, and the flag rate against the PGD budget (table and
 * SVG). `figures` names the SVGs (`<figures><model>.svg`): each page that calls this needs its
 * own, or one command would overwrite the figures of the other's page.
 */
export function shippedTables(shipped: ModelEvaluation[], files: Record<string, string>, figures: string): string[] {
  const lines: string[] = [];
  for (const e of shipped) {
    const sets = attackSets(e);
    if (sets.length === 0) continue;
    lines.push(`### The shipped model \`${e.model}\``, '');
    lines.push(`| attack | success | n | service flags | ${SCORES.map((s) => `${SCORE_TITLES[s]} AUROC`).join(' | ')} |`);
    lines.push(`| --- | --- | --- | --- | ${SCORES.map(() => '---').join(' | ')} |`);
    for (const s of sets) {
      lines.push(`| ${s.name} | ${f(s.attack.successRate)} | ${s.size} | ${f(s.flagged)} | ${SCORES.map((score) => f(s.metrics[score].auroc)).join(' | ')} |`);
    }
    lines.push('');
    const sweep = sets.filter((s) => s.attack.method === 'pgd' && s.attack.norm === 'linf').sort((a, b) => a.attack.eps - b.attack.eps);
    if (sweep.length < 2) continue;
    // Every layer any budget reports: a budget whose attack fooled nothing has no shares.
    const layers = [...new Set(sweep.flatMap((s) => Object.keys(s.layerFlagged ?? {})))];
    lines.push("Flag rate against the PGD budget: the service, and each indexed layer's nearest-neighbour distance alone " +
      "(at the threshold that flags the significance's share of clean test inputs):", '');
    lines.push(`| eps | attack success | service flags | ${layers.map((l) => `${l} alone`).join(' | ')} |`);
    lines.push(`| --- | --- | --- | ${layers.map(() => '---').join(' | ')} |`);
    for (const s of sweep) {
      lines.push(`| ${s.attack.eps} | ${f(s.attack.successRate)} | ${f(s.flagged)} | ${layers.map((l) => f(s.layerFlagged?.[l] ?? NaN)).join(' | ')} |`);
    }
    const file = `${figures}${e.model}.svg`;
    files[file] = lineChartSvg({
      title: `${e.model}: inputs flagged against the PGD budget`,
      xLabel: 'budget eps (linf, pixels in [0, 1])',
      yLabel: 'share of adversarial inputs',
      series: [
        { name: 'attack success', points: sweep.map((s) => [s.attack.eps, s.attack.successRate]) },
        { name: 'service flags', points: sweep.map((s) => [s.attack.eps, s.flagged]) },
        ...layers.map((l) => ({ name: `${l} nearest distance alone`, points: sweep.map((s): [number, number] => [s.attack.eps, s.layerFlagged?.[l] ?? NaN]) })),
      ],
      yDomain: [0, 1],
    });
    lines.push('', `![flag rate against the budget, ${e.model}](${file})`, '');
  }
  return lines;
}

/** The adversarial section of docs/results.md. */
export function adversarialSection(input: ResultsInput, files: Record<string, string>): string[] {
  const any = Object.values(input.variants).some((e) => attackSets(e).length > 0) || input.shipped.some((e) => attackSets(e).length > 0);
  if (!any) return [];
  return [
    '## Adversarial inputs',
    '',
    'Inputs crafted against each model with its own gradients (`npm run ood -- attack`): FGSM, one step of the ' +
      'whole budget; PGD, 10 steps of 2.5 eps / 10 from a random start in the linf ball; and the adaptive attack, 40 steps ' +
      'of 2.5 eps / 40 from the input itself, that also pull every indexed layer towards a reference example of the runner-up class (L2-normalised ' +
      'activations) and lower the log Mahalanobis distance to that class (the density signal\'s own model). FGSM and PGD ' +
      'climb the logit margin of the true class. Budgets are linf, in the pixels\' [0, 1] units. Each set holds the inputs ' +
      'whose class the attack changed; "attack success" is their share of the test inputs attacked (those the model ' +
      'classified correctly). Positives for AUROC are the clean in-distribution test inputs.',
    '',
    ...verdict(input).lines,
    '',
    ...variantTables(input),
    ...shippedTables(input.shipped, files, 'results/attack-budget-'),
  ];
}
