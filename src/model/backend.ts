import * as tf from '@tensorflow/tfjs';

/**
 * Backend selection, done once at start-up from the config passed in (never as an import side
 * effect). The native binding is preferred because it is fastest; it is an optionalDependency
 * whose install downloads libtensorflow, so offline machines fall back to wasm, then cpu.
 */
import { BACKENDS, type BackendName } from './backend-names.js';

export { BACKENDS, type BackendName };

export function parseBackend(name: string): BackendName {
  if ((BACKENDS as readonly string[]).includes(name)) return name as BackendName;
  throw new Error(`unknown tfjs backend "${name}"; valid choices: ${BACKENDS.join(', ')}`);
}

/** The order to try: the requested backend alone, or the preference list. */
export function backendCandidates(requested?: BackendName): BackendName[] {
  return requested ? [requested] : [...BACKENDS];
}

async function registerBackend(name: BackendName): Promise<void> {
  if (name === 'tensorflow') {
    // A variable specifier keeps TypeScript from requiring the optional package's types.
    const specifier = '@tensorflow/tfjs-node';
    await import(specifier);
  } else if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
  }
}

export interface BackendChoice {
  backend: BackendName;
  /** Why each earlier candidate was skipped, for the start-up log. */
  skipped: { backend: BackendName; reason: string }[];
}

export async function initBackend(requested?: BackendName): Promise<BackendChoice> {
  const skipped: BackendChoice['skipped'] = [];
  for (const candidate of backendCandidates(requested)) {
    try {
      await registerBackend(candidate);
      if (await tf.setBackend(candidate)) {
        await tf.ready();
        return { backend: candidate, skipped };
      }
      skipped.push({ backend: candidate, reason: 'setBackend returned false' });
    } catch (err) {
      skipped.push({ backend: candidate, reason: err instanceof Error ? err.message.split('\n')[0] : String(err) });
    }
  }
  const reasons = skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ');
  throw new Error(`no tfjs backend could be initialised (${reasons})`);
}

export function activeBackend(): string {
  return tf.getBackend();
}

/** Live tensors in the tfjs engine: flat over time, or something leaks. */
export function liveTensors(): number {
  return tf.memory().numTensors;
}
