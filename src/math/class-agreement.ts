import { maximumAssignment } from './assignment.js';

/**
 * How a classifier's predictions agree with the labels it is given, and whether the labels look
 * like the model's classes in another order: the trap of class names taken in one order (sorted
 * folder names) for a model trained in another.
 */
export interface ClassAgreement {
  rows: number;
  classes: number;
  /** classes x classes counts, row-major: row = given label, column = predicted class. */
  confusion: Int32Array;
  /** Share of rows whose predicted class is their label. */
  accuracy: number;
  /** The largest class's share of the labels: the accuracy of always naming that class. */
  chance: number;
  /** `reorder[label]` = the predicted class that best explains that label's rows; a permutation. */
  reorder: Int32Array;
  /** Accuracy once labels are renamed through `reorder`, on the rows it was fitted on. */
  reorderedAccuracy: number;
  /**
   * The same, with the reordering fitted on one half of the rows and scored on the other, both
   * ways round. With few rows per class, a best permutation fitted and scored on the same rows
   * finds chance coincidences even in predictions that ignore the labels (100 classes, 3 rows
   * each: about a third "explained"); on rows it has not seen, such a fit scores chance.
   */
  crossCheckedAccuracy: number;
  /**
   * Rows on which exactly one of the two is right, the labels as given or the cross-checked
   * reordering: McNemar's discordant pairs. Were the reordering no better, the gain
   * (crossCheckedAccuracy - accuracy) x rows would be a difference of two halves of these rows.
   */
  discordantRows: number;
}

/** Counts of (label, predicted) pairs; rows = labels, columns = predictions. */
export function confusionMatrix(predicted: ArrayLike<number>, labels: ArrayLike<number>, classes: number): Int32Array {
  const confusion = new Int32Array(classes * classes);
  for (let r = 0; r < labels.length; r++) confusion[labels[r] * classes + predicted[r]]++;
  return confusion;
}

/**
 * The confusion matrices of two halves of the rows. Each class's rows alternate between the
 * halves, so both hold every class evenly whatever the order of the rows (alternate rows would
 * split labels that cycle with an even period, class by class).
 */
export function halfConfusions(predicted: ArrayLike<number>, labels: ArrayLike<number>, classes: number): [Int32Array, Int32Array] {
  const halves: [Int32Array, Int32Array] = [new Int32Array(classes * classes), new Int32Array(classes * classes)];
  const seen = new Int32Array(classes);
  for (let r = 0; r < labels.length; r++) halves[seen[labels[r]]++ & 1][labels[r] * classes + predicted[r]]++;
  return halves;
}

/**
 * The permutation maximising the counts it keeps. Among equally good permutations the one that
 * moves fewest classes is taken, so a hint never reorders classes the data cannot tell apart:
 * each count is scaled by classes + 1 and the diagonal gets 1 more, a bonus whose total (at most
 * `classes`) can never outweigh one row.
 */
export function bestReorder(confusion: Int32Array, classes: number): Int32Array {
  const weights = new Float64Array(classes * classes);
  for (let i = 0; i < classes; i++) {
    for (let j = 0; j < classes; j++) weights[i * classes + j] = confusion[i * classes + j] * (classes + 1) + (i === j ? 1 : 0);
  }
  return maximumAssignment(weights, classes);
}

/** Rows a reordering keeps, and the rows on which it and the labels as given disagree on being right. */
function scoreReorder(confusion: Int32Array, classes: number, reorder: Int32Array): { kept: number; discordant: number } {
  let kept = 0;
  let discordant = 0;
  for (let label = 0; label < classes; label++) {
    const keptHere = confusion[label * classes + reorder[label]];
    kept += keptHere;
    if (reorder[label] !== label) discordant += keptHere + confusion[label * classes + label];
  }
  return { kept, discordant };
}

export function classAgreement(predicted: ArrayLike<number>, labels: ArrayLike<number>, classes: number): ClassAgreement {
  const rows = labels.length;
  if (predicted.length !== rows) throw new RangeError(`classAgreement: ${predicted.length} predictions for ${rows} labels`);
  if (rows === 0 || !Number.isInteger(classes) || classes < 1) throw new RangeError(`classAgreement: needs rows and classes, got ${rows} rows and ${classes} classes`);
  for (let r = 0; r < rows; r++) {
    for (const [role, v] of [['label', labels[r]], ['prediction', predicted[r]]] as const) {
      if (!Number.isInteger(v) || v < 0 || v >= classes) throw new RangeError(`classAgreement: row ${r} has ${role} ${v}, outside 0..${classes - 1}`);
    }
  }
  const confusion = confusionMatrix(predicted, labels, classes);
  let correct = 0;
  let largest = 0;
  for (let label = 0; label < classes; label++) {
    correct += confusion[label * classes + label];
    let share = 0;
    for (let j = 0; j < classes; j++) share += confusion[label * classes + j];
    largest = Math.max(largest, share);
  }
  const reorder = bestReorder(confusion, classes);
  const halves = halfConfusions(predicted, labels, classes);
  const crossChecks = [scoreReorder(halves[1], classes, bestReorder(halves[0], classes)), scoreReorder(halves[0], classes, bestReorder(halves[1], classes))];
  return {
    rows,
    classes,
    confusion,
    accuracy: correct / rows,
    chance: largest / rows,
    reorder,
    reorderedAccuracy: scoreReorder(confusion, classes, reorder).kept / rows,
    crossCheckedAccuracy: (crossChecks[0].kept + crossChecks[1].kept) / rows,
    discordantRows: crossChecks[0].discordant + crossChecks[1].discordant,
  };
}

/**
 * When the labels are refused as the model's classes in another order, and when a reordering is
 * only worth a warning. The reordering is always scored on rows it was not fitted on, so an
 * honest model, however weak, gains nothing on it but noise: its mistakes scatter, and no
 * permutation collects them. Every rule must hold to refuse:
 *
 * - `gain`: the reordering is right on at least 0.3 more of the rows. That many rows moved
 *   together is a naming, not a model's mistakes.
 * - `ratio`: and at least 1.5 times as often, i.e. the labels as given misname a third or more
 *   of what the model gets right: the agreement is near chance measured against what the model
 *   can do, rather than against the class shares. An absolute bar such as
 *   max(2 x chance, chance + 0.1) misses the trap it is for: Fashion-MNIST's names sorted leave
 *   4 classes of 10 in place, and the shipped fashion-cnn then agrees on 0.38 of the rows
 *   (chance 0.11, bar 0.23) against 0.90 reordered. With two classes the rules refuse a swap
 *   when the labels agree on at most 0.35 of the rows.
 * - `skill`: the reordered accuracy removes at least a quarter of the errors of always naming
 *   the largest class (chance + (1 - chance) / 4). A model that names one class for everything
 *   is broken, not misordered, whichever class it names; a swapped 0.97 model on 95% / 5% data
 *   still clears the bar of 0.9625.
 * - `sigmas`: the gain, in rows, is at least 4 standard deviations of what chance gives (McNemar:
 *   4 x sqrt(discordant rows)). Without it, 40 rows of coin-flip predictions for two classes
 *   agree on a third of them about once in fifty tries; a real misordering is certain within
 *   a few dozen rows.
 *
 * Not refused but `doubtful`: a skilled, significant reordering right on 0.1 more of the rows
 * that falls short of `gain` or `ratio`, as when two or three classes of ten are swapped. It is reported with the better order:
 * the served model is right on most classes, and a model that systematically mixes up a few
 * classes is its owners' to judge.
 */
export const LABEL_ORDER_RULES = { gain: 0.3, ratio: 1.5, skillShare: 0.25, sigmas: 4, doubtfulGain: 0.1 } as const;

export type LabelOrderVerdict = 'consistent' | 'doubtful' | 'scrambled';

export function labelOrderVerdict(agreement: ClassAgreement, rules = LABEL_ORDER_RULES): LabelOrderVerdict {
  const { rows, accuracy, chance, crossCheckedAccuracy: reordered, discordantRows } = agreement;
  const skilled = reordered >= chance + rules.skillShare * (1 - chance);
  const significant = (reordered - accuracy) * rows >= rules.sigmas * Math.sqrt(discordantRows);
  if (!skilled || !significant) return 'consistent';
  if (reordered >= accuracy + rules.gain && reordered >= rules.ratio * accuracy) return 'scrambled';
  return reordered >= accuracy + rules.doubtfulGain ? 'doubtful' : 'consistent';
}
