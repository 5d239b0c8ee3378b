import type { EmbeddingModel } from '../model/embedding.js';
import { INPUT_LAYER, type ModelManifest } from '../model/manifest.js';
import type { ModelDescription } from '../model/model-description.js';
import { inputsField } from '../model/model-inputs.js';
import type { DescribedModel } from '../model/model-runtime.js';

/**
 * The user's model opened for its class scores alone, before any model folder exists: onboarding
 * runs it on the data to learn what the class output gives and how well it agrees with the labels.
 * The scores are as the graph gives them (no softmax), which leaves every row's argmax unchanged.
 * Dispose it after; the described model stays the caller's.
 */
export function openClassProbe(described: DescribedModel, classOutput: ModelDescription['classOutput']): Promise<EmbeddingModel> {
  const { description } = described;
  const probe: ModelManifest = {
    name: 'probe',
    version: '0',
    input_shape: description.input.shape,
    ...inputsField(description.inputs),
    labels: Array.from({ length: classOutput.classes }, (_, i) => String(i)),
    layers: [INPUT_LAYER],
    reference_set: 'probe',
    output_layer: classOutput.name,
    output_activation: 'none',
  };
  return described.probe(probe);
}
