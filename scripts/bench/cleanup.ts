/**
 * Last-resort cleanup: whatever the benchmark, soak or load script starts (server processes, a
 * temp dir) registers a synchronous finaliser here, which runs when the process exits for any
 * reason, including an uncaught error or Ctrl-C. The normal path releases things itself first
 * (a graceful SIGTERM, an async rm) and unregisters them.
 */
import { progress } from './stats.js';

const finalisers = new Set<() => void>();
let installed = false;

function runFinalisers(): void {
  for (const fn of [...finalisers].reverse()) {
    try {
      fn();
    } catch {
      // Best effort: one failing finaliser must not stop the others.
    }
  }
  finalisers.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', runFinalisers);
  const signals = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;
  for (const [signal, number] of Object.entries(signals)) {
    process.once(signal, () => {
      progress(`${signal}: stopping everything this script started`);
      // exit() runs the 'exit' listener, hence the finalisers.
      process.exit(128 + number);
    });
  }
}

/** Registers fn to run at exit; call the returned function once the resource is released. */
export function atExit(fn: () => void): () => void {
  install();
  finalisers.add(fn);
  return () => {
    finalisers.delete(fn);
  };
}
