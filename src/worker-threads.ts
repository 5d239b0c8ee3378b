import { Worker } from 'node:worker_threads';

/**
 * Starts the worker module `name` (no extension) that sits beside the calling module. Under tsx
 * (npm start, the tests) the worker is TypeScript and needs tsx's loader, which a worker thread
 * does not inherit from `--import`; the built image runs the compiled .js directly.
 */
export function spawnSiblingWorker(callerUrl: string, name: string, workerData: unknown): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, callerUrl), { workerData });
  const entry = new URL(`./${name}.ts`, callerUrl).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData });
}
