import { parseArgs } from 'node:util';
import { writeAttackSet } from '../attack/attack-set.js';
import { craft, openAttackTarget } from '../attack/craft.js';
import { ATTACK_METHODS, AttackSpecSchema, NORMS } from '../attack/gradient-attack.js';
import { loadConfig } from '../config.js';
import { OodError } from '../errors.js';
import { createCliLogger } from '../log.js';
import { initBackend } from '../model/backend.js';

const USAGE = `usage: npm run ood -- attack --model NAME --method ${ATTACK_METHODS.join('|')} --eps E [--steps S] [--norm ${NORMS.join('|')}]
                          [--limit N] [--seed N] [--models-dir DIR] --out DIR
  Crafts adversarial inputs against the model itself (tfjs gradients) from up to N test rows of
  its reference set (default 1000), attacking each row the model classifies correctly, and
  writes DIR/meta.json (what was attacked, how, the success rate) and DIR/delta.npy (what the
  attack changed). fgsm is one step; pgd takes 10 steps by default; adaptive (40 steps) also
  pulls every indexed layer towards a reference example of the target class, against the
  detector's own evidence.`;

export async function attackCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      method: { type: 'string' },
      eps: { type: 'string' },
      steps: { type: 'string' },
      norm: { type: 'string', default: 'linf' },
      limit: { type: 'string', default: '1000' },
      seed: { type: 'string', default: '7' },
      'models-dir': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help || !values.model || !values.method || !values.eps || !values.out) {
    process.stderr.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const parsed = AttackSpecSchema.safeParse({
    method: values.method,
    eps: Number(values.eps),
    norm: values.norm,
    ...(values.steps ? { steps: Number(values.steps) } : {}),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new OodError('CONFIG_INVALID', `--${String(issue?.path[0] ?? 'method')}: ${issue?.message ?? 'invalid'}`);
  }
  const limit = Number(values.limit);
  const seed = Number(values.seed);
  if (!Number.isInteger(limit) || limit < 1) throw new OodError('CONFIG_INVALID', `--limit must be a positive integer, got ${values.limit}`);
  if (!Number.isInteger(seed)) throw new OodError('CONFIG_INVALID', `--seed must be an integer, got ${values.seed}`);
  const log = createCliLogger();
  const config = loadConfig({ ...process.env, OOD_MODELS_DIR: values['models-dir'] ?? process.env.OOD_MODELS_DIR });
  await initBackend(config.backend);
  const target = await openAttackTarget(config.modelsDir, config.referenceSetsDir, values.model);
  try {
    const started = performance.now();
    const { result, test, origin } = craft(target, parsed.data, { limit, seed });
    const command = `npm run ood -- attack ${argv.join(' ')}`;
    const meta = await writeAttackSet(values.out, result, test, { ...origin, command });
    log.info(
      { attacked: meta.source.length, successRate: +meta.success_rate.toFixed(4), seconds: +((performance.now() - started) / 1000).toFixed(1), out: values.out },
      `${parsed.data.method} at eps ${parsed.data.eps}: changed the class of ${(100 * meta.success_rate).toFixed(1)}% of the inputs it attacked`,
    );
  } finally {
    target.dispose();
  }
  return 0;
}
