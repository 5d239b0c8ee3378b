import { OodError } from '../errors.js';
import type { Log } from '../log.js';
import { rowRange, type Matrix } from '../math/matrix.js';
import type { ModelDescription } from '../model/model-description.js';
import type { DescribedModel } from '../model/model-runtime.js';
import { openClassProbe } from './class-probe.js';

/** Rows of real data whose class scores decide between probabilities and logits. */
export const SAMPLE_ROWS = 256;

/** Every row non-negative and summing to 1: what a softmax (or a scikit-learn classifier) gives. */
export function looksLikeProbabilities(scores: Matrix, tolerance = 1e-3): boolean {
  for (let r = 0; r < scores.rows; r++) {
    let sum = 0;
    for (let c = 0; c < scores.cols; c++) {
      const v = scores.data[r * scores.cols + c];
      if (v < 0) return false;
      sum += v;
    }
    if (Math.abs(sum - 1) > tolerance) return false;
  }
  return true;
}

/**
 * Whether the class output needs a softmax, decided on the data rather than on the graph's
 * last op alone: some exporters end in ops other than Softmax that still give probabilities.
 */
export async function checkClassScores(
  described: DescribedModel,
  classOutput: ModelDescription['classOutput'],
  x: Matrix,
  log: Log,
): Promise<'none' | 'softmax'> {
  const model = await openClassProbe(described, classOutput);
  try {
    const rows = Math.min(SAMPLE_ROWS, x.rows);
    const { probabilities } = await model.embed(rowRange(x, 0, rows).data as Float32Array, rows);
    const activation = looksLikeProbabilities(probabilities) ? 'none' : 'softmax';
    log.info({ output: classOutput.name, activation, rows }, activation === 'none' ? 'class output gives probabilities' : 'class output gives logits: softmax applied');
    return activation;
  } finally {
    model.dispose();
  }
}

/**
 * The declared activation, once logits declared as such (a features model's --logits) are seen
 * not to be probabilities already: a softmax over probabilities keeps every argmax but flattens
 * every score, and the model would disagree with itself served in-process.
 */
export async function checkDeclaredLogits(described: DescribedModel, classOutput: ModelDescription['classOutput'], x: Matrix): Promise<'none' | 'softmax'> {
  if (classOutput.activation !== 'softmax') return classOutput.activation;
  const model = await openClassProbe(described, classOutput);
  try {
    const rows = Math.min(SAMPLE_ROWS, x.rows);
    const { probabilities } = await model.embed(rowRange(x, 0, rows).data as Float32Array, rows);
    if (looksLikeProbabilities(probabilities)) {
      throw new OodError('DATA_INVALID', `the class scores "${classOutput.name}" given as logits are probabilities in all of the first ${rows} rows: give them with --probabilities`);
    }
    return 'softmax';
  } finally {
    model.dispose();
  }
}
