/**
 * The drift evaluation: scores each model's held-out rows, its partner data set and its rows
 * rotated by 1 to 90 degrees, then replays simulated streams of those p-values through the drift
 * test and through the outlier-share alert rule, and writes docs/drift.md and docs/drift.svg.
 *
 *   npm run drift:eval                    # score, simulate, render
 *   npm run drift:eval -- --streams 5     # fewer streams per scenario, for a quick look
 *   npm run drift:eval -- --render-only   # render again from .cache/drift-eval.json
 *
 * The PyTorch example's model (fashion-cnn) is included when it is onboarded
 * (npm run example:pytorch); without it the page says so.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../src/atomic-write.js';
import { loadConfig } from '../src/config.js';
import { decisionCalibrationSize } from '../src/detector/calibration.js';
import { DriftMonitor } from '../src/drift/drift-monitor.js';
import { loadDetector } from '../src/detector/load-detector.js';
import { predictMatrix } from '../src/detector/predict-matrix.js';
import { detectorSettings } from '../src/detector-settings.js';
import { driftChartSvg, renderDriftReport, simulateCalibrationDraws, simulateModel, type CalibrationDraws, type DriftModel, type RenderOptions } from '../src/evaluation/drift-report.js';
import type { PValuePools } from '../src/evaluation/drift-streams.js';
import { createCliLogger } from '../src/log.js';
import { selectRows, type Matrix } from '../src/math/matrix.js';
import { createRng, permutation } from '../src/math/random.js';
import { initBackend } from '../src/model/backend.js';
import { readModelManifest } from '../src/model/model-store.js';
import { loadReferenceSet } from '../src/reference/load-reference-set.js';
import { loadOodSets } from '../src/reference/ood-sets.js';
import { rotate } from '../src/reference/synthetic.js';

const { values } = parseArgs({ options: { streams: { type: 'string' }, 'render-only': { type: 'boolean' } } });
const streams = Number(values.streams ?? 20);
const MODELS: { name: string; partner: string; role: string }[] = [
  { name: 'mnist', partner: 'fashion-mnist', role: 'shipped' },
  { name: 'fashion-mnist', partner: 'mnist', role: 'shipped' },
  { name: 'fashion-cnn', partner: 'mnist', role: 'the PyTorch example, onboarded with add-model --onnx' },
];
/** Held-out rows rotated by each degree: enough that a pool is not a handful of repeats. */
const ROTATED_ROWS = 300;
const DEGREES = 90;

/** The figures of the last full run, so the page can be rendered again without it. */
const SAVED = join('.cache', 'drift-eval.json');
type Saved = { results: DriftModel[]; draws: CalibrationDraws[]; options: RenderOptions };
type Scored = { pools: PValuePools; calibrationSize: number; significance: number; labels: string[] };

const log = createCliLogger(process.env.LOG_LEVEL ?? 'warn');
const { backend: wanted, driftDelta: delta } = loadConfig(process.env);

/** The combined p-values of a model's held-out rows, its partner set and its rotated rows. */
async function scorePools(model: string, partner: string): Promise<Scored> {
  const config = loadConfig({ ...process.env, OOD_MODEL: model });
  const detector = await loadDetector(detectorSettings(config), log);
  try {
    const manifest = await readModelManifest(config.modelsDir, model);
    const refset = await loadReferenceSet(config.referenceSetsDir, manifest.reference_set);
    const combined = async (x: Matrix) => Float64Array.from(await predictMatrix(detector, x), (p) => p.p_values.combined);
    const clean = await combined(refset.test.x);
    const [ood] = await loadOodSets(config.referenceSetsDir, manifest.reference_set, { limit: 5000, seed: 7, partner, include: [partner] });
    const sample = selectRows(refset.test.x, permutation(refset.test.x.rows, createRng(3)).subarray(0, Math.min(ROTATED_ROWS, refset.test.x.rows)));
    const rotated: Float64Array[] = [];
    for (let degree = 1; degree <= DEGREES; degree++) rotated.push(await combined(rotate(sample, degree)));
    return {
      pools: { clean, cleanLabels: Int32Array.from(refset.test.labels), ood: await combined(ood.x), rotated },
      calibrationSize: decisionCalibrationSize(detector.info.calibration_size),
      significance: detector.info.significance,
      labels: detector.info.labels,
    };
  } finally {
    detector.dispose();
  }
}

/**
 * What the drift test adds to the scoring path per prediction, timed over a million: the monitor
 * as a request meets it (a ticket, the update, the alarm check), for one-row requests, where the
 * ticket's share is largest.
 */
function updateMicros(): number {
  const monitor = new DriftMonitor({ model: 'timing', version: '1', calibrationSize: 2500, delta, rng: createRng(1) });
  const rng = createRng(2);
  const p = Float64Array.from({ length: 1_000_000 }, () => Math.ceil(rng() * 2501) / 2501);
  const t0 = performance.now();
  for (const v of p) monitor.admit().record([v]);
  return ((performance.now() - t0) * 1000) / p.length;
}

async function evaluate(): Promise<Saved> {
  const started = performance.now();
  const backend = await initBackend(wanted);
  const results: DriftModel[] = [];
  const missing: string[] = [];
  for (const { name, partner, role } of MODELS) {
    if (!existsSync(join('models', name, 'manifest.json'))) {
      missing.push(name);
      process.stderr.write(`${name} is not here (npm run example:pytorch onboards it); skipped\n`);
      continue;
    }
    process.stderr.write(`${name}: scoring the pools ...\n`);
    const { labels, ...input } = await scorePools(name, partner);
    process.stderr.write(`${name}: simulating ${streams} streams per scenario ...\n`);
    results.push(simulateModel({ model: name, role, partner, ...input }, { streams, delta, labels }));
  }
  process.stderr.write('clean streams against calibration sets drawn afresh ...\n');
  const sizes = [...new Set(results.map((r) => r.calibrationSize))].sort((a, b) => a - b);
  const draws = sizes.map((n) => simulateCalibrationDraws(n, 5 * streams, delta));
  const micros = updateMicros();
  const seconds = (performance.now() - started) / 1000;
  return { results, draws, options: { missing, seconds, backend: backend.backend, streams, delta, updateMicros: micros } };
}

// JSON has no Infinity or NaN (a missed stream's delay, an empty quantile): they are saved as strings.
const NON_FINITE: Record<string, number> = { Infinity, '-Infinity': -Infinity, NaN };
const saved: Saved = values['render-only']
  ? (JSON.parse(readFileSync(SAVED, 'utf8'), (_, v: unknown) => (typeof v === 'string' && v in NON_FINITE ? NON_FINITE[v] : v)) as Saved)
  : await evaluate();
if (!values['render-only']) await writeFileAtomic(SAVED, JSON.stringify(saved, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)));
await writeFileAtomic(join('docs', 'drift.svg'), driftChartSvg(saved.results));
await writeFileAtomic(join('docs', 'drift.md'), renderDriftReport(saved.results, saved.draws, saved.options));
process.stderr.write('wrote docs/drift.md and docs/drift.svg\n');
