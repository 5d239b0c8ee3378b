import { z } from 'zod';
import type { ModelInfo } from '../../detector/types.js';
import { outputSpecs } from './output-tensors.js';
import { V2_INPUT_DATATYPES } from './v2-tensors.js';

export const TensorMetadataSchema = z.object({ name: z.string(), datatype: z.string(), shape: z.array(z.number().int()) });

/** A model's metadata in the Open Inference Protocol v2, REST and gRPC alike. */
export const ModelMetadataSchema = z.object({
  name: z.string(),
  versions: z.array(z.string()),
  platform: z.string(),
  inputs: z.array(TensorMetadataSchema),
  outputs: z.array(TensorMetadataSchema),
});

/** Every input and output with its type, and its shape with the batch as -1. */
export function v2Metadata(info: ModelInfo): z.infer<typeof ModelMetadataSchema> {
  return {
    name: info.name,
    versions: [info.version],
    platform: `ood-service (${info.backend})`,
    inputs: info.inputs.map((i) => ({ name: i.name, datatype: V2_INPUT_DATATYPES[i.dtype], shape: [-1, ...i.shape] })),
    outputs: outputSpecs(info).map(({ name, datatype, shape }) => ({ name, datatype, shape: [-1, ...shape] })),
  };
}
