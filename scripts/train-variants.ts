/**
 * Trains every model variant of the paper reproduction (src/evaluation/variants.ts) into
 * .cache/variants/models, one child process each, and records each run's wall time in
 * .cache/variants/train-times.json for the report.
 *
 *   npm run train:variants [-- --only mnist]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../src/atomic-write.js';
import { DATASETS, SEEDS, VARIANT_MODELS_DIR, VARIANTS, VARIANTS_DIR, variantModelName } from '../src/evaluation/variants.js';

const { values } = parseArgs({ options: { only: { type: 'string' }, 'skip-existing': { type: 'boolean' } } });
const timesFile = join(VARIANTS_DIR, 'train-times.json');
const times: Record<string, number> = existsSync(timesFile) ? JSON.parse(readFileSync(timesFile, 'utf8')) : {};
const started = performance.now();
for (const dataset of DATASETS) {
  if (values.only && values.only !== dataset.name) continue;
  for (const variant of VARIANTS) {
    for (const seed of SEEDS) {
      const name = variantModelName(dataset.name, variant, seed);
      if (values['skip-existing'] && existsSync(join(VARIANT_MODELS_DIR, name, 'weights.bin'))) continue;
      const args = ['train', '--data', dataset.name, '--out', name, '--models-dir', VARIANT_MODELS_DIR,
        '--epochs', String(dataset.epochs), '--seed', String(seed), `--snnl-factor=${variant.snnlFactor}`,
        // Half the default sample: the per-epoch SNNL-at-T* measurement costs as much as training.
        '--entanglement-sample', '500'];
      process.stderr.write(`training ${name} ...\n`);
      const t0 = performance.now();
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/ood.ts', ...args], {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
      });
      if (run.status !== 0) throw new Error(`training ${name} failed (exit ${run.status})`);
      times[name] = (performance.now() - t0) / 1000;
      await writeFileAtomic(timesFile, JSON.stringify(times, null, 2));
      process.stderr.write(`  ${name}: ${times[name].toFixed(0)} s\n`);
    }
  }
}
process.stderr.write(`all variants trained in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
