import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { npyRows, parseNpy } from '../../src/reference/sources/npy.js';

/** The first `rows` rows of a .npy file of model inputs, flat, with the per-row shape. */
export async function inputRows(file: string, rows: number): Promise<{ rows: number; cols: number; shape: number[]; data: Float32Array }> {
  const array = parseNpy(await readFile(file), file);
  const x = npyRows(array, file);
  const n = Math.min(rows, x.rows);
  return { rows: n, cols: x.cols, shape: array.shape.slice(1), data: x.data.slice(0, n * x.cols) };
}

/** Every float output of an ONNX file (one float input) for these rows: what a model server running it returns. */
export async function exportedOutputs(file: string, x: { rows: number; shape: number[]; data: Float32Array }): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(await readFile(file));
  try {
    const results = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x.data, [x.rows, ...x.shape]) });
    // Features are float; a model's other outputs (an int64 label) are no one's input here.
    const floats = Object.entries(results).filter(([, t]) => t.type === 'float32' || t.type === 'float64');
    return Object.fromEntries(floats.map(([name, t]) => [name, Float32Array.from(t.data as Float32Array | Float64Array)]));
  } finally {
    await session.release();
  }
}

/** Row r of the named outputs as one features instance, {"name": [values]}. */
export function featuresInstance(outputs: Record<string, Float32Array>, names: readonly string[], rows: number, r: number): Record<string, number[]> {
  return Object.fromEntries(
    names.map((name) => {
      const width = outputs[name].length / rows;
      return [name, Array.from(outputs[name].subarray(r * width, (r + 1) * width))];
    }),
  );
}
