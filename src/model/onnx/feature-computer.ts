import * as ort from 'onnxruntime-node';
import { OodError } from '../../errors.js';
import { concatRows } from '../../math/matrix.js';
import { inputLayout, type InputLayout } from '../model-inputs.js';
import type { ExportedFeatures } from './export-features.js';
import { floatData } from './onnx-embedder.js';
import { onnxFeed } from './onnx-inputs.js';

/** Rows per run: bounds the memory of a large layer's outputs, as the in-process model does. */
const CHUNK_ROWS = 512;

/**
 * The exported file (export-features) run here, as the model server will run it: every feature
 * and the class scores for packed rows of the model's inputs. What `add-model --as-features`
 * writes to .npy files and onboards.
 */
export class FeatureComputer {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly layout: InputLayout,
    private readonly names: string[],
    private readonly singleRow: boolean,
  ) {}

  static async create(exported: ExportedFeatures, file: string): Promise<FeatureComputer> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(exported.bytes, { graphOptimizationLevel: 'all', logSeverityLevel: 3 });
    } catch (err) {
      throw new OodError('MODEL_INVALID', `${file} with its features added cannot be opened by onnxruntime: ${(err as Error).message.split('\n')[0]}`, { cause: err });
    }
    const names = [...new Set([...exported.layers.map((l) => l.output), exported.scores.output])];
    return new FeatureComputer(session, inputLayout(exported.description.inputs), names, exported.singleRow);
  }

  /** Output name -> rows x width, float32, for `rows` packed rows. */
  async compute(packed: Float32Array, rows: number): Promise<Map<string, Float32Array>> {
    const step = this.singleRow ? 1 : CHUNK_ROWS;
    const parts = new Map<string, Float32Array[]>(this.names.map((n) => [n, []]));
    for (let start = 0; start < rows; start += step) {
      const n = Math.min(step, rows - start);
      const chunk = packed.subarray(start * this.layout.width, (start + n) * this.layout.width);
      let results: ort.InferenceSession.ReturnType;
      try {
        results = await this.session.run(onnxFeed(chunk, n, this.layout), this.names);
      } catch (err) {
        throw new OodError('MODEL_REFUSED_INPUT', `the model cannot run on rows ${start} to ${start + n - 1}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
      }
      try {
        for (const name of this.names) (parts.get(name) as Float32Array[]).push(floatData(results[name]));
      } finally {
        for (const t of Object.values(results)) t.dispose();
      }
    }
    // The first chunk holds min(step, rows) rows: its length gives the output's width. No rows
    // ran no chunk, and give empty outputs.
    return new Map(
      [...parts].map(([name, chunks]) => [name, rows === 0 ? new Float32Array(0) : (concatRows(chunks, rows, chunks[0].length / Math.min(step, rows)).data as Float32Array)]),
    );
  }

  /** Never throws: a release that fails must not hide the error that ended the run. */
  async release(): Promise<void> {
    await this.session.release().catch(() => undefined);
  }
}

