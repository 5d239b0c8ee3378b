/**
 * Evaluates every trained variant (npm run train:variants) and the shipped models, then writes
 * docs/results.md and its figures under docs/results/.
 *
 *   npm run results                 # evaluate and render
 *   npm run results -- --render-only  # re-render from .cache/variants/evaluations.json
 */
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../src/atomic-write.js';
import { loadConfig } from '../src/config.js';
import { detectorSettings } from '../src/detector/load-detector.js';
import { evaluateModel, type ModelEvaluation } from '../src/evaluation/evaluate-model.js';
import { renderResults } from '../src/evaluation/results-report.js';
import { DATASETS, SEEDS, VARIANT_MODELS_DIR, VARIANTS, VARIANTS_DIR, variantModelName } from '../src/evaluation/variants.js';
import { createCliLogger } from '../src/log.js';
import { initBackend } from '../src/model/backend.js';

const { values } = parseArgs({ options: { 'render-only': { type: 'boolean' } } });
const log = createCliLogger(process.env.LOG_LEVEL ?? 'warn');
const evaluationsFile = join(VARIANTS_DIR, 'evaluations.json');
type Saved = { variants: Record<string, ModelEvaluation>; shipped: ModelEvaluation[]; seconds: number; backend: string };

async function evaluateAll(): Promise<Saved> {
  const started = performance.now();
  const backend = await initBackend(loadConfig(process.env).backend);
  const run = async (modelsDir: string, model: string) => {
    const config = loadConfig({ ...process.env, OOD_MODEL: model, OOD_MODELS_DIR: modelsDir });
    process.stderr.write(`evaluating ${model} ...\n`);
    const e = await evaluateModel(detectorSettings(config), { limit: 2000, seed: 7 }, log);
    process.stderr.write(`  ${model}: ${e.seconds.toFixed(0)} s\n`);
    return e;
  };
  const variants: Record<string, ModelEvaluation> = {};
  for (const dataset of DATASETS) {
    for (const variant of VARIANTS) {
      for (const seed of SEEDS) {
        const name = variantModelName(dataset.name, variant, seed);
        if (!existsSync(join(VARIANT_MODELS_DIR, name, 'weights.bin'))) {
          throw new Error(`variant ${name} is not trained: run npm run train:variants first`);
        }
        variants[name] = await run(VARIANT_MODELS_DIR, name);
      }
    }
  }
  const shipped = [await run('models', 'mnist'), await run('models', 'fashion-mnist')];
  const saved = { variants, shipped, seconds: (performance.now() - started) / 1000, backend: backend.backend };
  await writeFileAtomic(evaluationsFile, JSON.stringify(saved));
  return saved;
}

const saved: Saved = values['render-only'] ? JSON.parse(readFileSync(evaluationsFile, 'utf8')) : await evaluateAll();
const timesFile = join(VARIANTS_DIR, 'train-times.json');
const entanglementSvgs: Record<string, string> = {};
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
  evaluationSeconds: saved.seconds,
  command: 'npm run results',
  trainCommand: 'npm run train:variants',
  machine: `${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, Node ${process.version}, tfjs backend ${saved.backend}`,
});
for (const [file, content] of Object.entries(files)) await writeFileAtomic(join('docs', file), content);
await writeFileAtomic(join('docs', 'results.md'), markdown);
process.stderr.write(`wrote docs/results.md and ${Object.keys(files).length} figures\n`);
