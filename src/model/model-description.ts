import type { LayerCandidate, LayerChoice } from './layer-choice.js';
import type { ModelInput } from './model-inputs.js';
import type { RuntimeName } from './runtimes.js';

/** What `inspect` shows and `add-model` builds a manifest from, whatever the runtime. */
export interface ModelDescription {
  runtime: RuntimeName;
  file: string;
  /** The model's inputs, in its order, with their element types and per-instance shapes. */
  inputs: ModelInput[];
  /** One instance as the service carries it (model-inputs.ts): the manifest's input_shape and its width. */
  input: { name: string; shape: number[]; width: number };
  outputs: { name: string; shape: number[] }[];
  /**
   * The output taken as the class scores, and whether it looks like probabilities already.
   * `declared`: the user said which (a features model's --logits or --probabilities), so the
   * data are checked against it rather than read for it.
   */
  classOutput: { name: string; classes: number; activation: 'none' | 'softmax'; why: string; declared?: boolean };
  /** Every intermediate value that could be indexed, in graph order, with its shape. */
  candidates: LayerCandidate[];
  /** Every value (ONNX) or layer (tfjs) name that `--layers` may name, candidates or not. */
  values: string[];
  defaults: LayerChoice;
}
