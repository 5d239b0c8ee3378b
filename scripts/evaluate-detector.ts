/**
 * Scores a model's in-distribution test part and its OOD sets through the detector (the code
 * path of POST /predict, without HTTP) and prints markdown tables: flag rates and AUROC of the
 * service's outlier_score and of each signal, then per-layer distance ablations.
 *
 *   npm run evaluate -- [model] [--limit N]
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { loadDetector } from '../src/detector/load-detector.js';
import { detectorSettings } from '../src/detector-settings.js';
import { predictMatrix } from '../src/detector/predict-matrix.js';
import type { Prediction } from '../src/detector/types.js';
import { createCliLogger } from '../src/log.js';
import { auroc } from '../src/math/ood-metrics.js';
import { initBackend } from '../src/model/backend.js';
import { loadStoredModel } from '../src/model/model-store.js';
import { loadReferenceSet } from '../src/reference/load-reference-set.js';
import { loadOodSets } from '../src/reference/ood-sets.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { limit: { type: 'string' } } });
const started = performance.now();
const config = loadConfig({ ...process.env, OOD_MODEL: positionals[0] ?? process.env.OOD_MODEL });
const backend = await initBackend(config.backend);
const detector = await loadDetector(detectorSettings(config), createCliLogger('warn'));
const { manifest } = await loadStoredModel(config.modelsDir, config.model);
const limit = Number(values.limit ?? 2000);
const refset = await loadReferenceSet(config.referenceSetsDir, manifest.reference_set);
const inPreds = await predictMatrix(detector, refset.test.x);
const oodSets = await loadOodSets(config.referenceSetsDir, manifest.reference_set, { limit, seed: 7 });

type Score = (q: Prediction) => number; // higher = more outlying
// AUROC takes in-distribution-ness (docs/design.md §3), so outlier scores enter negated.
const separation = (outPreds: Prediction[], f: Score) =>
  auroc(
    inPreds.map((q) => -f(q)),
    outPreds.map((q) => -f(q)),
  );
const flagged = (p: Prediction[]) => p.filter((q) => q.is_outlier).length / p.length;
const fmt = (x: number) => x.toFixed(4);

const main: [string, Score][] = [
  ['outlier_score', (q) => q.outlier_score],
  ['label p-value', (q) => -q.p_values.label],
  ['distance p-value', (q) => -q.p_values.distance],
  ['density p-value', (q) => -q.p_values.density],
  ['max softmax', (q) => -Math.max(...q.probabilities)],
];
const ablation: [string, Score][] = detector.info.layers.flatMap((name, l): [string, Score][] => [
  [`${name} nearest`, (q) => q.layers[l].nearest_distance],
  [`${name} mean of k`, (q) => q.layers[l].mean_knn_distance],
  [`${name} Mahalanobis`, (q) => q.layers[l].mahalanobis_distance ?? NaN],
]);

const out: string[] = [];
const table = (title: string, scores: [string, Score][], withFlags: boolean) => {
  out.push(`\n### ${title}\n`);
  out.push(`| OOD set | n | ${withFlags ? 'flagged | ' : ''}${scores.map(([n]) => `AUROC ${n}`).join(' | ')} |`);
  out.push(`| --- | --- | ${withFlags ? '--- | ' : ''}${scores.map(() => '---').join(' | ')} |`);
  if (withFlags) out.push(`| (in-distribution test) | ${inPreds.length} | ${fmt(flagged(inPreds))} | ${scores.map(() => '').join(' | ')} |`);
  for (const set of oodSets) {
    const preds = predictions.get(set.name) as Prediction[];
    out.push(
      `| ${set.name} | ${preds.length} | ${withFlags ? `${fmt(flagged(preds))} | ` : ''}${scores.map(([, f]) => fmt(separation(preds, f))).join(' | ')} |`,
    );
  }
};
const predictions = new Map<string, Prediction[]>();
for (const set of oodSets) predictions.set(set.name, await predictMatrix(detector, set.x));
out.push(`Model \`${manifest.name}\` v${manifest.version}, k = ${detector.info.k}, significance = ${detector.info.significance}, ` +
  `backend ${backend.backend}; ${detector.info.reference_size} reference and ${detector.info.calibration_size} calibration points.`);
table('Outlier decision and its signals', main, true);
table('Per-layer ablation: nearest and mean-of-k squared distances (L2-normalised activations), Mahalanobis (raw activations)', ablation, false);
out.push(`\nWall time: ${((performance.now() - started) / 1000).toFixed(1)} s.`);
process.stdout.write(`${out.join('\n')}\n`);
