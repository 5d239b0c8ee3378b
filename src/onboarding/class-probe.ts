import { Embedder } from '../model/embedder.js';
import type { EmbeddingModel } from '../model/embedding.js';
import { INPUT_LAYER, type ModelManifest } from '../model/manifest.js';
import type { ModelDescription } from '../model/model-description.js';
import { inputsField } from '../model/model-inputs.js';
import { OnnxEmbedder } from '../model/onnx/onnx-embedder.js';
import type { DescribedFile } from './describe-file.js';

/**
 * The user's model opened for its class scores alone, before any model folder exists: onboarding
 * runs it on the data to learn what the class output gives and how well it agrees with the labels.
 * The scores are as the graph gives them (no softmax), which leaves every row's argmax unchanged.
 */
export interface ClassProbe {
  model: EmbeddingModel;
  close(): void;
}

export async function openClassProbe(described: DescribedFile, classOutput: ModelDescription['classOutput']): Promise<ClassProbe> {
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
  if (described.onnxBytes) {
    const model = await OnnxEmbedder.create(described.onnxBytes, probe, description.file);
    return { model, close: () => model.dispose() };
  }
  // The tfjs model is the caller's, saved after this: only an ONNX session is the probe's to close.
  const model = new Embedder(described.tfjsModel as NonNullable<DescribedFile['tfjsModel']>, probe);
  return { model, close: () => undefined };
}
