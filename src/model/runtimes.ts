import { featuresRuntime } from './features/features-runtime.js';
import { runtimeRegistry, type ModelRuntime } from './model-runtime.js';
import { onnxRuntime } from './onnx/onnx-runtime.js';
import { tfjsRuntime } from './tfjs/tfjs-runtime.js';

/**
 * Every runtime, by the name a manifest's `runtime` and add-model's `--NAME FILE` give. Adding a
 * runtime is its own file (model-runtime.ts says what it implements) plus one row here; the
 * order is the order errors and usage list them in.
 */
export const RUNTIMES = { onnx: onnxRuntime, tfjs: tfjsRuntime, features: featuresRuntime } as const satisfies Record<string, ModelRuntime>;
export type RuntimeName = keyof typeof RUNTIMES;

/** The lookups over RUNTIMES. A manifest written before there were runtimes names none: it is tfjs. */
export const MODEL_RUNTIMES = runtimeRegistry<RuntimeName>(RUNTIMES, 'tfjs');

/** The runtime a manifest names (tfjs when it names none); the error lists the valid choices. */
export const runtimeOf = MODEL_RUNTIMES.of;
export const runtimeNameOf = MODEL_RUNTIMES.nameOf;
/** The runtime of a file a user brings, by its name. */
export const runtimeForFile = MODEL_RUNTIMES.forFile;
