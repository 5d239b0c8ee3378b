import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../atomic-write.js';
import { loadConfig } from '../config.js';
import { detectorSettings } from '../detector-settings.js';
import { OodError } from '../errors.js';
import { evaluateModel, STANDARD_ATTACKS } from '../evaluation/evaluate-model.js';
import { evaluationMarkdown } from '../evaluation/format.js';
import { createCliLogger } from '../log.js';
import { initBackend } from '../model/backend.js';

const USAGE = `usage: npm run ood -- evaluate --model NAME [--partner REFSET] [--attacks standard|none] [--models-dir DIR] [--limit N] [--seed N] [--json FILE]
  --partner  the reference set to use as near-OOD data (default: mnist for fashion-mnist and back)
  --attacks  standard (the default, tfjs models only): adversarial sets crafted against the model:
             FGSM at eps 0.05, 0.1 and 0.2, PGD (10 steps) at 0.05 and 0.1, and the adaptive attack at 0.1
  Scores the model's in-distribution test part against its OOD sets with MSP, energy,
  Mahalanobis, kNN distance, DkNN credibility and the service's outlier score, and prints
  AUROC, FPR@95TPR, AUPR-In, AUPR-Out and detection error as markdown.`;

export async function evaluateCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      'models-dir': { type: 'string' },
      limit: { type: 'string', default: '2000' },
      seed: { type: 'string', default: '7' },
      json: { type: 'string' },
      partner: { type: 'string' },
      attacks: { type: 'string', default: 'standard' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help || !values.model) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (values.attacks !== 'standard' && values.attacks !== 'none') throw new OodError('CONFIG_INVALID', `--attacks must be standard or none, got ${values.attacks}`);
  const log = createCliLogger();
  const config = loadConfig({ ...process.env, OOD_MODEL: values.model, OOD_MODELS_DIR: values['models-dir'] ?? process.env.OOD_MODELS_DIR });
  const backend = await initBackend(config.backend);
  log.info({ backend: backend.backend }, 'tfjs backend ready');
  const evaluation = await evaluateModel(
    detectorSettings(config),
    { limit: Number(values.limit), seed: Number(values.seed), partner: values.partner, attacks: values.attacks === 'standard' ? STANDARD_ATTACKS : [] },
    log,
  );
  if (values.json) await writeFileAtomic(values.json, JSON.stringify(evaluation));
  process.stdout.write(evaluationMarkdown(evaluation));
  return 0;
}
