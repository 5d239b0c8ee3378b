import * as ort from 'onnxruntime-node';
import type { onnx as Onnx } from 'onnx-proto';
import { inputLayout, type ModelInput } from '../model-inputs.js';
import { OnnxFormatError, withOutputs } from './onnx-graph.js';
import { onnxFeed } from './onnx-inputs.js';

export interface ProbedValue {
  /** Per-instance shape, the batch dimension removed. */
  shape: number[];
  float: boolean;
  /** As onnxruntime names it (float32, int64, ...). */
  type: string;
}

/**
 * Each named value's real shape, from one run on a zero instance with those values exposed:
 * files often carry no shapes for hidden values. Zero is a valid value of every input type
 * (a padding token id, an empty mask). Throws OnnxFormatError when the model cannot run.
 */
export async function probeValues(model: Onnx.ModelProto, names: readonly string[], inputs: readonly ModelInput[]): Promise<Map<string, ProbedValue>> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(withOutputs(model, names), { logSeverityLevel: 3 });
  } catch (err) {
    throw new OnnxFormatError(`cannot be opened by onnxruntime: ${(err as Error).message.split('\n')[0]}`);
  }
  const found = new Map<string, ProbedValue>();
  try {
    const layout = inputLayout(inputs);
    const results = await session.run(onnxFeed(new Float32Array(layout.width), 1, layout), [...names]);
    for (const [name, t] of Object.entries(results)) {
      found.set(name, { shape: t.dims.slice(1).map(Number), float: t.type === 'float32' || t.type === 'float64', type: t.type });
      t.dispose();
    }
  } catch (err) {
    const shapes = inputs.map((i) => `${i.name} [1, ${i.shape.join(', ')}]`).join(', ');
    throw new OnnxFormatError(`fails on a zero input (${shapes}): ${(err as Error).message.split('\n')[0]}`);
  } finally {
    await session.release();
  }
  return found;
}
