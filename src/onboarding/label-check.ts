import { OodError } from '../errors.js';
import type { Log } from '../log.js';
import { classAgreement, labelOrderVerdict, type ClassAgreement, type LabelOrderVerdict } from '../math/class-agreement.js';
import { rowRange, selectRows, type Matrix } from '../math/matrix.js';
import type { EmbeddingModel } from '../model/embedding.js';
import type { ModelDescription } from '../model/model-description.js';
import type { DescribedModel } from '../model/model-runtime.js';
import type { LabeledData } from '../reference/sources/labeled-data.js';
import { openClassProbe } from './class-probe.js';
import type { DataPlan } from './data-plan.js';

/**
 * Training rows the model is run on: enough that a class of a few percent holds dozens of rows
 * and the accuracy is known to about a point, and under a second for the Fashion-MNIST example's
 * CNN on two cores.
 */
export const LABEL_CHECK_ROWS = 2000;
const BATCH = 256;

/** How the model's predictions agree with the labels of its reference set. */
export interface LabelCheck {
  rows: number;
  accuracy: number;
  /** The largest class's share: the accuracy of always naming it. */
  chance: number;
  /** The accuracy if the classes were renamed in `likelyOrder`, scored on rows the order was not fitted on. */
  reorderedAccuracy: number;
  verdict: LabelOrderVerdict;
  /** The data's class names in the order the model seems to use: output j names likelyOrder[j]. */
  likelyOrder: string[];
  /** `reorder[label]` = the model output that seems to mean that label. */
  reorder: number[];
}

/**
 * Up to `rows` rows spread evenly over `data`. The training rows are already in seeded-permutation
 * order, and an even stride also keeps every class in data that are sorted by class.
 */
export function spreadRows(data: LabeledData, rows = LABEL_CHECK_ROWS): LabeledData {
  const n = Math.min(rows, data.x.rows);
  const indices = Int32Array.from({ length: n }, (_, i) => Math.floor((i * data.x.rows) / n));
  return { x: selectRows(data.x, indices), labels: Int32Array.from(indices, (r) => data.labels[r]) };
}

/** The model's predicted class for every row (argmax of its class scores). */
export async function predictClasses(model: EmbeddingModel, x: Matrix): Promise<Int32Array> {
  const predicted = new Int32Array(x.rows);
  for (let start = 0; start < x.rows; start += BATCH) {
    const n = Math.min(BATCH, x.rows - start);
    const { probabilities: scores } = await model.embed(Float32Array.from(rowRange(x, start, n).data), n);
    for (let r = 0; r < n; r++) {
      let best = 0;
      for (let c = 1; c < scores.cols; c++) if (scores.data[r * scores.cols + c] > scores.data[r * scores.cols + best]) best = c;
      predicted[start + r] = best;
    }
  }
  return predicted;
}

/** Turns the agreement into what add-model records and says. */
export function labelCheckOf(agreement: ClassAgreement, names: readonly string[]): LabelCheck {
  const reorder = Array.from(agreement.reorder);
  const likelyOrder = new Array<string>(names.length);
  reorder.forEach((output, label) => {
    likelyOrder[output] = names[label];
  });
  return {
    rows: agreement.rows,
    accuracy: agreement.accuracy,
    chance: agreement.chance,
    reorderedAccuracy: agreement.crossCheckedAccuracy,
    verdict: labelOrderVerdict(agreement),
    likelyOrder,
    reorder,
  };
}

const fixed = (x: number) => x.toFixed(4);

/**
 * The refusal: what was measured, the order the model seems to use, and how to pass it. Labels
 * that are names (folders, strings, CSV cells) are renumbered by --classes; .npy labels may be
 * whole numbers, which are class indices whatever the names.
 */
export function scrambledMessage(check: LabelCheck, labelsFrom: string, labelsMayBeIndices: boolean): string {
  const renumbering = check.reorder.map((output, label) => `${label} as ${output}`).join(', ');
  const indexHint = labelsMayBeIndices
    ? ` (.npy labels that are whole numbers are class indices, which --classes only names: renumber those instead, label ${renumbering})`
    : '';
  return (
    `the model agrees with the labels on only ${fixed(check.accuracy)} of ${check.rows} reference rows ` +
    `(chance level ${fixed(check.chance)}, the largest class's share), but a reordering of the classes explains its predictions much better ` +
    `(accuracy ${fixed(check.reorderedAccuracy)}): the class names, from ${labelsFrom}, are probably not in the order of the model's outputs. ` +
    `The order the model seems to use: ${check.likelyOrder.join(', ')}. ` +
    `If that is right, write those names one per line to a file and pass --classes FILE${indexHint}`
  );
}

/** For a doubtful check, the order that would agree better with the labels; undefined otherwise. */
export function reorderNote(check: LabelCheck): string | undefined {
  if (check.verdict !== 'doubtful') return undefined;
  return `classes in the order ${check.likelyOrder.join(', ')} would give ${fixed(check.reorderedAccuracy)}: check the class order`;
}

/**
 * Runs the model on the sample and compares its predictions with the labels. Classes named in
 * another order than the model's outputs are refused: the model would then name the wrong class
 * on most predictions, and calibration, fed the same labels, would not show it.
 */
export async function checkLabelOrder(
  described: DescribedModel,
  classOutput: ModelDescription['classOutput'],
  sample: LabeledData,
  plan: Pick<DataPlan, 'labels' | 'labelsFrom' | 'source'>,
  log: Log,
): Promise<LabelCheck> {
  const probe = await openClassProbe(described, classOutput);
  let predicted: Int32Array;
  try {
    predicted = await predictClasses(probe, sample.x);
  } finally {
    probe.dispose();
  }
  const check = labelCheckOf(classAgreement(predicted, sample.labels, plan.labels.length), plan.labels);
  const { rows, accuracy, chance, reorderedAccuracy, verdict } = check;
  log.info({ rows, accuracy, chance, reorderedAccuracy, verdict }, 'model accuracy on the reference rows');
  if (verdict === 'scrambled') throw new OodError('DATA_INVALID', scrambledMessage(check, plan.labelsFrom, plan.source.kind === 'npy'));
  const note = reorderNote(check);
  if (note) log.warn({ accuracy, reorderedAccuracy }, note);
  return check;
}
