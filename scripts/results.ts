/**
 * Evaluates every trained variant (npm run train:variants) and the shipped models, then writes
 * docs/results.md and its figures under docs/results/.
 *
 *   npm run results                     # evaluate everything and render
 *   npm run results -- --only mnist     # evaluate one data set's models, keep the others' results
 *   npm run results -- --render-only    # re-render from .cache/variants/evaluations.json
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../src/atomic-write.js';
import { loadConfig } from '../src/config.js';
import { detectorSettings } from '../src/detector-settings.js';
import type { AttackSpecInput } from '../src/attack/gradient-attack.js';
import { SHIPPED_ATTACKS } from '../src/evaluation/adversarial-report.js';
import { evaluateModel, STANDARD_ATTACKS, type ModelEvaluation } from '../src/evaluation/evaluate-model.js';
import { renderResults } from '../src/evaluation/results-report.js';
import { DATASETS, SEEDS, VARIANT_MODELS_DIR, VARIANTS, VARIANTS_DIR, variantModelName } from '../src/evaluation/variants.js';
import { createCliLogger } from '../src/log.js';
import { initBackend } from '../src/model/backend.js';

/** Test rows each attack starts from: enough for the rates' second decimal, few enough for 20 models. */
const ATTACK_ROWS = 500;

const { values } = parseArgs({ options: { 'render-only': { type: 'boolean' }, only: { type: 'string' } } });
const log = createCliLogger(process.env.LOG_LEVEL ?? 'warn');
const evaluationsFile = join(VARIANTS_DIR, 'evaluations.json');
type Saved = { variants: Record<string, ModelEvaluation>; shipped: ModelEvaluation[]; backend: string };

async function evaluateAll(previous: Saved | undefined): Promise<Saved> {
  const backend = await initBackend(loadConfig(process.env).backend);
  // A fresh cache, so the times reported include building every graph: what a new user pays.
  const cacheDir = await mkdtemp(join(tmpdir(), 'ood-results-'));
  const run = async (modelsDir: string, model: string, attacks: AttackSpecInput[]) => {
    const config = loadConfig({ ...process.env, OOD_MODEL: model, OOD_MODELS_DIR: modelsDir, OOD_CACHE_DIR: cacheDir });
    process.stderr.write(`evaluating ${model} ...\n`);
    const e = await evaluateModel(detectorSettings(config), { limit: 2000, seed: 7, attacks, attackLimit: ATTACK_ROWS }, log);
    process.stderr.write(`  ${model}: ${e.seconds.toFixed(0)} s\n`);
    return e;
  };
  const variants: Record<string, ModelEvaluation> = { ...previous?.variants };
  const shipped = (previous?.shipped ?? []).filter((e) => values.only && e.referenceSet !== values.only);
  for (const dataset of DATASETS) {
    if (values.only && values.only !== dataset.name) continue;
    for (const variant of VARIANTS) {
      for (const seed of SEEDS) {
        const name = variantModelName(dataset.name, variant, seed);
        if (!existsSync(join(VARIANT_MODELS_DIR, name, 'weights.bin'))) {
          throw new Error(`variant ${name} is not trained: run npm run train:variants first`);
        }
        variants[name] = await run(VARIANT_MODELS_DIR, name, STANDARD_ATTACKS);
      }
    }
    shipped.push(await run('models', dataset.name, SHIPPED_ATTACKS));
  }
  await rm(cacheDir, { recursive: true, force: true });
  const order = DATASETS.map((d) => d.name);
  shipped.sort((a, b) => order.indexOf(a.referenceSet) - order.indexOf(b.referenceSet));
  const saved = { variants, shipped, backend: backend.backend };
  await writeFileAtomic(evaluationsFile, JSON.stringify(saved));
  return saved;
}

const previous: Saved | undefined = existsSync(evaluationsFile) ? JSON.parse(readFileSync(evaluationsFile, 'utf8')) : undefined;
if (values['render-only'] && !previous) throw new Error(`${evaluationsFile} does not exist: run npm run results first`);
const saved: Saved = values['render-only'] && previous ? previous : await evaluateAll(previous);
// Each model's own evaluation time, so partial reruns (--only) still add up to the full cost.
const evaluationSeconds = [...Object.values(saved.variants), ...saved.shipped].reduce((sum, e) => sum + e.seconds, 0);
const timesFile = join(VARIANTS_DIR, 'train-times.json');
const entanglementSvgs: Record<string, string> = {};
const finalEntanglement: Record<string, Record<string, number>> = {};
for (const name of Object.keys(saved.variants)) {
  const file = join(VARIANT_MODELS_DIR, name, 'history.csv');
  if (!existsSync(file)) continue;
  const [header, ...rows] = readFileSync(file, 'utf8').trim().split('\n').map((line) => line.split(','));
  const last = rows.at(-1) ?? [];
  finalEntanglement[name] = Object.fromEntries(
    header.flatMap((column, i) => (column.startsWith('snnl_opt_') ? [[column.slice('snnl_opt_'.length), Number(last[i])]] : [])),
  );
}
for (const dataset of DATASETS) {
  for (const variant of VARIANTS) {
    const name = variantModelName(dataset.name, variant, SEEDS[0]);
    const file = join(VARIANT_MODELS_DIR, name, 'entanglement.svg');
    if (existsSync(file)) entanglementSvgs[name] = readFileSync(file, 'utf8');
  }
}
const cpu = cpus();
const { markdown, files } = renderResults({
  variants: saved.variants,
  shipped: saved.shipped,
  trainSeconds: existsSync(timesFile) ? JSON.parse(readFileSync(timesFile, 'utf8')) : {},
  entanglementSvgs,
  finalEntanglement,
  evaluationSeconds,
  command: 'npm run results',
  trainCommand: 'npm run train:variants',
  machine: `${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, Node ${process.version}, tfjs backend ${saved.backend}`,
});
for (const [file, content] of Object.entries(files)) await writeFileAtomic(join('docs', file), content);
await writeFileAtomic(join('docs', 'results.md'), markdown);
process.stderr.write(`wrote docs/results.md and ${Object.keys(files).length} figures\n`);
