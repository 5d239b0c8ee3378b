import type { RuntimeName } from '../model/runtimes.js';
import type { GivenShapes } from '../model/onnx/onnx-inputs.js';
import type { DataOptions } from './data-plan.js';

/** What add-model is asked to do: the CLI's flags, parsed. Its own module, so the model card can read it without importing add-model. */
export interface AddModelOptions {
  name: string;
  modelFile: string;
  /** What runs the model file (runtimeForFile tells from its name). */
  runtime: RuntimeName;
  data: DataOptions;
  layers?: string[];
  /** Share of the rows held out for calibration; undefined: the default rule (calibrationRows). */
  calibrationShare?: number;
  seed: number;
  k?: number;
  /** efSearch for named layers (the manifest's ef_search). */
  efSearch?: Record<string, number>;
  copyData: boolean;
  force: boolean;
  version: string;
  inputShape?: GivenShapes;
  /** A text model's Hugging Face tokenizer.json: clients then send strings. */
  tokenizer?: string;
  image?: { scale?: number; mean?: number[]; std?: number[] };
  /** The command line, for the model card's "regenerate" section. */
  command: string;
  /** Kept in the model folder with their checksums, though the model does not load them (a features model's exported file). */
  extraModelFiles?: Record<string, Uint8Array>;
  /** How the model card names the model file, when `modelFile` is not what the user gave. */
  cardModelFile?: string;
}
