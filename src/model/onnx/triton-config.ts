import type { InputDtype } from '../model-inputs.js';
import type { ExportedFeatures } from './export-features.js';

/**
 * The Triton model repository entry of an exported file: `config.pbtxt` with the model's inputs
 * and every tensor output it returns, its own and the added features. Triton can derive a config from
 * an ONNX file itself, but only a written one can be reviewed, and it fixes which outputs
 * clients may ask for. The protobuf text format, as Triton's model_config.proto spells it.
 */

const TRITON_INPUT_TYPES: Record<InputDtype, string> = {
  float32: 'TYPE_FP32',
  float64: 'TYPE_FP64',
  int64: 'TYPE_INT64',
  int32: 'TYPE_INT32',
  uint8: 'TYPE_UINT8',
  bool: 'TYPE_BOOL',
};

/** By onnxruntime's names for the output's element type. */
const TRITON_OUTPUT_TYPES: Record<string, string> = {
  float32: 'TYPE_FP32',
  float64: 'TYPE_FP64',
  float16: 'TYPE_FP16',
  int64: 'TYPE_INT64',
  int32: 'TYPE_INT32',
  int8: 'TYPE_INT8',
  uint8: 'TYPE_UINT8',
  bool: 'TYPE_BOOL',
};

/** `maxBatchSize` rows per call, batched dynamically; a file fixed at one row per run gets no batching. */
export function tritonConfig(exported: ExportedFeatures, name: string, maxBatchSize = 64): string {
  const batching = !exported.singleRow;
  // Without batching Triton's dims include the batch dimension itself.
  const dims = (shape: readonly number[]) => `[ ${[...(batching ? [] : [1]), ...shape].join(', ')} ]`;
  const tensor = (tensorName: string, type: string, shape: readonly number[]) => `  {\n    name: ${JSON.stringify(tensorName)}\n    data_type: ${type}\n    dims: ${dims(shape)}\n  }`;
  const { scores } = exported;
  // Outputs of a type Triton has no name for here are left out rather than mistyped.
  const outputs = [
    { name: scores.output, dtype: scores.dtype, shape: [scores.classes] },
    ...exported.otherOutputs,
    ...exported.layers.map((l) => ({ name: l.output, dtype: l.dtype, shape: l.shape })),
  ]
    .filter((o) => TRITON_OUTPUT_TYPES[o.dtype] !== undefined)
    .map((o) => tensor(o.name, TRITON_OUTPUT_TYPES[o.dtype], o.shape));
  return [
    `name: ${JSON.stringify(name)}`,
    'backend: "onnxruntime"',
    `max_batch_size: ${batching ? maxBatchSize : 0}`,
    'input [',
    exported.description.inputs.map((i) => tensor(i.name, TRITON_INPUT_TYPES[i.dtype], i.shape)).join(',\n'),
    ']',
    'output [',
    outputs.join(',\n'),
    ']',
    ...(batching ? ['dynamic_batching { }'] : []),
    '',
  ].join('\n');
}
