import { parseArgs, type ParseArgsConfig } from 'node:util';

export type ArgValues = Record<string, string | boolean | undefined>;

/**
 * The scripts' command-line convention: a bad option prints the message and the usage and means
 * exit code 2; --help prints the usage and means 0. Returns the values, or that exit code.
 */
export function parseScriptArgs(options: NonNullable<ParseArgsConfig['options']>, usage: string): ArgValues | number {
  let values: ArgValues;
  try {
    ({ values } = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage}`);
    return 2;
  }
  if (values.help) {
    process.stderr.write(usage);
    return 0;
  }
  return values;
}

/** A numeric option: `fallback` when absent, else a (whole, unless told) number >= min. */
export function numberOption(values: ArgValues, name: string, fallback: number, min: number, integer = true): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if ((integer && !Number.isInteger(n)) || !(n >= min)) throw new Error(`--${name} must be a ${integer ? 'whole ' : ''}number >= ${min}`);
  return n;
}

/** Runs a script's main: its result is the exit code, and a throw is printed under the script's tag. */
export function runMain(tag: string, main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`[${tag}] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
