import { isOodError } from '../errors.js';
import { createCliLogger } from '../log.js';

/** One entry point, one thin module per command; each is imported only when it runs. */
const COMMANDS: Record<string, () => Promise<(argv: string[]) => Promise<number>>> = {
  serve: async () => (await import('./serve.js')).serveCommand,
  train: async () => (await import('./train.js')).trainCommand,
  evaluate: async () => (await import('./evaluate.js')).evaluateCommand,
  entanglement: async () => (await import('./entanglement.js')).entanglementCommand,
  warm: async () => (await import('./warm.js')).warmCommand,
  bundle: async () => (await import('./bundle.js')).bundleCommand,
  inspect: async () => (await import('./inspect.js')).inspectCommand,
  'add-model': async () => (await import('./add-model.js')).addModelCommand,
  'export-features': async () => (await import('./export-features.js')).exportFeaturesCommand,
  attack: async () => (await import('./attack.js')).attackCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const command = name ? COMMANDS[name] : undefined;
  if (!command) {
    process.stderr.write(`usage: npm run ood -- <${Object.keys(COMMANDS).join('|')}> [options]\n`);
    return name ? 2 : 0;
  }
  return (await command())(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const log = createCliLogger();
    if (isOodError(err)) log.error({ code: err.code }, err.message);
    else log.error({ err }, 'command failed');
    process.exitCode = 1;
  },
);
