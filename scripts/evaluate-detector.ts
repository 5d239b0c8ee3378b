/**
 * Scores a served model's in-distribution test part and its OOD sets through the detector (the
 * same code path as POST /predict, without HTTP) and prints AUROC and flag rates per signal.
 *
 *   npx tsx scripts/evaluate-detector.ts [model] [--limit N]
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { detectorSettings, loadDetector } from '../src/detector/load-detector.js';
import type { Detector, Prediction } from '../src/detector/types.js';
import { createCliLogger } from '../src/log.js';
import type { Matrix } from '../src/math/matrix.js';
import { evaluateScores } from '../src/math/ood-metrics.js';
import { initBackend } from '../src/model/backend.js';
import { loadReferenceSet } from '../src/reference/load-reference-set.js';
import { loadOodSets } from '../src/reference/ood-sets.js';

async function predictAll(detector: Detector, x: Matrix, batch = 256): Promise<Prediction[]> {
  const out: Prediction[] = [];
  for (let start = 0; start < x.rows; start += batch) {
    const n = Math.min(batch, x.rows - start);
    const rows = Float32Array.from(x.data.subarray(start * x.cols, (start + n) * x.cols));
    out.push(...(await detector.predict(rows, n)).predictions);
  }
  return out;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { limit: { type: 'string' } } });
const log = createCliLogger('warn');
const config = loadConfig({ ...process.env, OOD_MODEL: positionals[0] ?? process.env.OOD_MODEL });
await initBackend(config.backend);
const detector = await loadDetector(
  detectorSettings(config),
  log,
);
const limit = Number(values.limit ?? 2000);
const refset = await loadReferenceSet(config.referenceSetsDir, detector.info.name === 'mnist' ? 'mnist' : detector.info.name);
const inPreds = await predictAll(detector, refset.test.x);
const signals = ['combined', ...detector.info.signals];
const lines = [`| OOD set | n | flagged | AUROC outlier_score | ${signals.map((s) => `AUROC ${s}`).join(' | ')} |`];
lines.push(`| --- | --- | --- | --- | ${signals.map(() => '---').join(' | ')} |`);
const flagged = (p: Prediction[]) => p.filter((q) => q.is_outlier).length / p.length;
lines.push(`| (in-distribution test) | ${inPreds.length} | ${flagged(inPreds).toFixed(4)} | | ${signals.map(() => '').join(' | ')} |`);
// Metrics take in-distribution-ness, so the outlier score enters negated.
const inScore = (p: Prediction[], f: (q: Prediction) => number) => p.map((q) => -f(q));
for (const set of await loadOodSets(config.referenceSetsDir, refset.manifest.name, { limit, seed: 7 })) {
  const preds = await predictAll(detector, set.x);
  const main = evaluateScores(inScore(inPreds, (q) => q.outlier_score), inScore(preds, (q) => q.outlier_score));
  const perSignal = signals.map(
    (s) => evaluateScores(inScore(inPreds, (q) => -(q.p_values[s] ?? 1)), inScore(preds, (q) => -(q.p_values[s] ?? 1))).auroc,
  );
  lines.push(
    `| ${set.name} | ${preds.length} | ${flagged(preds).toFixed(4)} | ${main.auroc.toFixed(4)} | ${perSignal.map((a) => a.toFixed(4)).join(' | ')} |`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
