import { OodError } from '../errors.js';
import type { BackendName } from './backend-names.js';
import type { EmbeddingModel } from './embedding.js';
import type { ModelManifest } from './manifest.js';
import type { ModelDescription } from './model-description.js';
import type { GivenShapes } from './onnx/onnx-inputs.js';

/**
 * What a runtime can do beyond the EmbeddingModel every runtime gives. Code that depends on one
 * of these asks for it here, never for a runtime by name.
 */
export interface RuntimeCapabilities {
  /** Gradients flow through the model, so attacks can be crafted against it (attack/). */
  gradients: boolean;
  /** Layers may name a pooling, `NAME:mean` or `NAME:first` (layer-spec.ts). */
  pooledLayers: boolean;
  /** One float32 input only, or several inputs of any element type (token ids and masks: a text model). */
  inputTypes: 'float32-only' | 'any';
}

/** A model file a user brought, read and described: what `inspect` shows and `add-model` probes, then saves. */
export interface DescribedModel {
  readonly description: ModelDescription;
  /**
   * The model opened under `manifest` before any model folder exists, e.g. for its class scores
   * alone. Disposing it frees what the probe holds, never the described model itself.
   */
  probe(manifest: ModelManifest): Promise<EmbeddingModel>;
  /** Writes a model folder: the runtime's files and `extraFiles` (a tokenizer), then the manifest with every digest. */
  save(dir: string, manifest: ModelManifest, extraFiles?: Record<string, Uint8Array>): Promise<void>;
  /** Frees what reading the file took; the described model is unusable afterwards. */
  dispose(): void;
}

/** Chosen once at start-up from the config, for the runtimes that need it. */
export interface RuntimeOptions {
  /** tfjs's backend; unset, the best one available. */
  backend?: BackendName;
}

/**
 * What runs a model: the row of model/runtimes.ts, in a file of its own (model/tfjs/,
 * model/onnx/). Loading a model folder, onboarding a user's file and the commands that inspect
 * it or attack it go through these members and nothing else.
 */
export interface ModelRuntime {
  /** The runtime's name for people: "A {title} model". */
  title: string;
  /** The file a user brings, for errors: "an ONNX file (.onnx)". */
  fileHint: string;
  /** How the model card says the model is kept: a sentence without its full stop. */
  keptAs: string;
  capabilities: RuntimeCapabilities;
  /** The files it needs in a model folder, all checksummed in the manifest. */
  files: readonly string[];
  /** Whether a file a user brings (`--onnx`, `--tfjs`, `inspect FILE`) is this runtime's. */
  matches(file: string): boolean;
  /** Readies what must be set up once before use; what it chose, for the start-up log. */
  prepare(options: RuntimeOptions): Promise<{ backend: string } | undefined>;
  /** Reads and describes a file a user brings; every failure names the file. */
  describe(file: string, givenShapes?: GivenShapes): Promise<DescribedModel>;
  /** `files` holds every file this runtime named, already checked against the manifest. */
  open(dir: string, files: ReadonlyMap<string, Buffer>, manifest: ModelManifest, extraLayers: string[]): Promise<EmbeddingModel>;
}

/** The lookups over a table of runtimes: the service's (model/runtimes.ts), or a test's own. */
export interface RuntimeRegistry<Name extends string = string> {
  /** In the table's order. */
  readonly names: readonly Name[];
  get(name: Name): ModelRuntime;
  /** The runtime a manifest names (the fallback when it names none); the error lists the valid choices. */
  nameOf(manifest: Pick<ModelManifest, 'runtime'>, manifestFile?: string): Name;
  of(manifest: Pick<ModelManifest, 'runtime'>, manifestFile?: string): ModelRuntime;
  /** The runtime whose file a user brought; the error says which files would do. */
  forFile(file: string): Name;
}

export function runtimeRegistry<Name extends string>(table: Readonly<Record<Name, ModelRuntime>>, fallback: NoInfer<Name>): RuntimeRegistry<Name> {
  const names = Object.keys(table) as Name[];
  const nameOf = (manifest: Pick<ModelManifest, 'runtime'>, manifestFile = 'manifest.json'): Name => {
    const name = manifest.runtime ?? fallback;
    if (Object.hasOwn(table, name)) return name as Name;
    throw new OodError('MODEL_INVALID', `${manifestFile}: runtime "${name}" is unknown; valid choices: ${names.join(', ')}`);
  };
  return {
    names,
    get: (name) => table[name],
    nameOf,
    of: (manifest, manifestFile) => table[nameOf(manifest, manifestFile)],
    forFile(file) {
      const name = names.find((n) => table[n].matches(file));
      if (name !== undefined) return name;
      throw new OodError('CONFIG_INVALID', `${file}: expected ${names.map((n) => table[n].fileHint).join(' or ')}`);
    },
  };
}
