import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { bestReorder, classAgreement, confusionMatrix, halfConfusions, labelOrderVerdict } from '../../src/math/class-agreement.js';
import { createRng, permutation, type Rng } from '../../src/math/random.js';

/**
 * A model right on `accuracy` of the rows (its mistakes spread evenly over the other classes),
 * in its own class order; `order[modelClass]` is the label the data give that class.
 */
function simulate(p: { classes: number; rows: number; accuracy: number; seed: number; order?: ArrayLike<number>; shares?: number[] }) {
  const rng = createRng(p.seed);
  const { classes } = p;
  const drawClass = (r: number, random: Rng) => {
    if (!p.shares) return r % classes;
    let u = random();
    for (let c = 0; c < classes; c++) if ((u -= p.shares[c]) < 0) return c;
    return classes - 1;
  };
  const predicted: number[] = [];
  const labels: number[] = [];
  for (let r = 0; r < p.rows; r++) {
    const truth = drawClass(r, rng);
    const other = (truth + 1 + Math.floor(rng() * (classes - 1))) % classes;
    predicted.push(rng() < p.accuracy ? truth : other);
    labels.push(p.order ? p.order[truth] : truth);
  }
  return { predicted, labels };
}

const inverse = (order: ArrayLike<number>) => {
  const out = new Array<number>(order.length);
  for (let i = 0; i < order.length; i++) out[order[i]] = i;
  return out;
};

test('the confusion matrix counts (label, prediction) pairs, labels down and predictions across', () => {
  assert.deepEqual(Array.from(confusionMatrix([0, 1, 1, 2], [0, 0, 1, 2], 3)), [1, 1, 0, 0, 1, 0, 0, 0, 1]);
});

test('the two halves split every class, whatever the order of the rows', () => {
  // Labels cycling 0, 1: alternate rows would put all 0s in one half and all 1s in the other.
  const labels = [0, 1, 0, 1, 0, 1, 0, 1];
  const [first, second] = halfConfusions([0, 1, 0, 1, 1, 0, 1, 0], labels, 2);
  assert.deepEqual(Array.from(first), [1, 1, 1, 1]);
  assert.deepEqual(Array.from(second), [1, 1, 1, 1]);
});

test('accuracy, chance level and reordering by hand', () => {
  // Labels 0,0,0,1,1,2 (chance 1/2); the model calls every 0 "1" and every 1 "0".
  const a = classAgreement([1, 1, 1, 0, 0, 2], [0, 0, 0, 1, 1, 2], 3);
  assert.equal(a.accuracy, 1 / 6);
  assert.equal(a.chance, 1 / 2);
  assert.deepEqual(Array.from(a.reorder), [1, 0, 2]);
  assert.equal(a.reorderedAccuracy, 1);
});

test('a correct model: the identity, accuracy 1, consistent', () => {
  const { predicted, labels } = simulate({ classes: 10, rows: 2000, accuracy: 1, seed: 1 });
  const a = classAgreement(predicted, labels, 10);
  assert.deepEqual(Array.from(a.reorder), Array.from({ length: 10 }, (_, i) => i));
  assert.equal(a.accuracy, 1);
  assert.equal(a.crossCheckedAccuracy, 1);
  assert.equal(labelOrderVerdict(a), 'consistent');
});

test('among equally good reorderings, the one that moves fewest classes', () => {
  // Everything predicted as class 0, classes balanced: every permutation keeps one class's rows.
  const a = classAgreement([0, 0, 0, 0, 0, 0], [0, 1, 2, 0, 1, 2], 3);
  assert.deepEqual(Array.from(a.reorder), [0, 1, 2]);
  assert.deepEqual(Array.from(bestReorder(new Int32Array(16), 4)), [0, 1, 2, 3]);
});

test('finds a scrambled order and refuses it: all moved, and 3 classes of 4 moved', () => {
  for (const [classes, order] of [
    [10, permutation(10, createRng(3))],
    [4, [0, 2, 3, 1]],
    [300, permutation(300, createRng(4))],
  ] as const) {
    const { predicted, labels } = simulate({ classes, rows: 2000, accuracy: 0.95, seed: 2, order });
    const a = classAgreement(predicted, labels, classes);
    assert.deepEqual(Array.from(a.reorder), inverse(order), `${classes} classes`);
    assert.ok(a.crossCheckedAccuracy > 0.9, `${a.crossCheckedAccuracy}`);
    assert.equal(labelOrderVerdict(a), 'scrambled', `${classes} classes: accuracy ${a.accuracy}, reordered ${a.crossCheckedAccuracy}`);
  }
});

test('the trap itself: Fashion-MNIST\'s class names sorted, 4 of 10 classes left in place', () => {
  const trained = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
  const sorted = [...trained].sort();
  const order = trained.map((name) => sorted.indexOf(name));
  assert.equal(order.filter((label, output) => label === output).length, 4);
  const { predicted, labels } = simulate({ classes: 10, rows: 2000, accuracy: 0.9, seed: 10, order });
  const a = classAgreement(predicted, labels, 10);
  // Well above the chance level of 0.1: an absolute bar would let it through.
  assert.ok(a.accuracy > 0.3, `${a.accuracy}`);
  assert.deepEqual(Array.from(a.reorder), inverse(order));
  assert.equal(labelOrderVerdict(a), 'scrambled');
});

test('two classes swapped: refused when a good model looks bad, not when the swap is only a little better', () => {
  const swapped = simulate({ classes: 2, rows: 1000, accuracy: 0.9, seed: 5, order: [1, 0] });
  assert.equal(labelOrderVerdict(classAgreement(swapped.predicted, swapped.labels, 2)), 'scrambled');
  // 0.6 agreement swapped is 0.4: the swap is better, by 0.2 of the rows.
  const middling = simulate({ classes: 2, rows: 1000, accuracy: 0.6, seed: 5, order: [1, 0] });
  const a = classAgreement(middling.predicted, middling.labels, 2);
  assert.ok(a.accuracy > 0.35 && a.accuracy < 0.45, `${a.accuracy}`);
  assert.notEqual(labelOrderVerdict(a), 'scrambled');
  // Imbalanced, 95% of one class: a swapped 0.97 model is still refused.
  const rare = simulate({ classes: 2, rows: 2000, accuracy: 0.98, seed: 6, order: [1, 0], shares: [0.95, 0.05] });
  assert.equal(labelOrderVerdict(classAgreement(rare.predicted, rare.labels, 2)), 'scrambled');
});

test('a weak but honest model is never refused: accuracy 0.4 on 10 classes', () => {
  const { predicted, labels } = simulate({ classes: 10, rows: 2000, accuracy: 0.4, seed: 7 });
  const a = classAgreement(predicted, labels, 10);
  assert.ok(Math.abs(a.accuracy - 0.4) < 0.05);
  assert.equal(labelOrderVerdict(a), 'consistent');
});

test('property: honest models, however weak, and predictions that ignore the labels, are never refused', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 40 }),
      fc.integer({ min: 40, max: 2000 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.integer({ min: 1, max: 1e6 }),
      (classes, rows, accuracy, seed) => {
        // An accuracy below chance is a misordering in disguise: honest models sit at chance or above.
        const honest = simulate({ classes, rows, accuracy: 1 / classes + accuracy * (1 - 1 / classes), seed });
        assert.notEqual(labelOrderVerdict(classAgreement(honest.predicted, honest.labels, classes)), 'scrambled');
        const rng = createRng(seed);
        const ignoring = Array.from({ length: rows }, () => Math.floor(rng() * classes));
        assert.notEqual(labelOrderVerdict(classAgreement(ignoring, honest.labels, classes)), 'scrambled');
      },
    ),
    { numRuns: 200 },
  );
});

test('many classes and few rows: fitted on the same rows a permutation "explains" noise, cross-checked it does not', () => {
  const classes = 100;
  const rng = createRng(8);
  const labels = Array.from({ length: 300 }, (_, r) => r % classes);
  const predicted = labels.map(() => Math.floor(rng() * classes));
  const a = classAgreement(predicted, labels, classes);
  assert.ok(a.reorderedAccuracy - a.accuracy > 0.25, `in-sample gain ${a.reorderedAccuracy - a.accuracy}`);
  assert.ok(a.crossCheckedAccuracy - a.accuracy < 0.05, `cross-checked gain ${a.crossCheckedAccuracy - a.accuracy}`);
  assert.equal(labelOrderVerdict(a), 'consistent');
});

test('a model that names one class for everything is broken, not misordered', () => {
  const labels = Array.from({ length: 1000 }, (_, r) => (r % 10 === 0 ? 1 : 0));
  const a = classAgreement(new Array<number>(1000).fill(1), labels, 2);
  assert.equal(a.accuracy, 0.1);
  assert.equal(a.crossCheckedAccuracy, 0.9);
  assert.equal(labelOrderVerdict(a), 'consistent');
});

test('two classes of ten swapped in a good model: doubtful, not refused', () => {
  const order = Array.from({ length: 10 }, (_, i) => (i === 2 ? 7 : i === 7 ? 2 : i));
  const { predicted, labels } = simulate({ classes: 10, rows: 2000, accuracy: 0.95, seed: 9, order });
  const a = classAgreement(predicted, labels, 10);
  assert.deepEqual(Array.from(a.reorder), order);
  assert.equal(labelOrderVerdict(a), 'doubtful');
});

test('refuses mismatched lengths, no rows, and classes out of range', () => {
  assert.throws(() => classAgreement([0], [0, 1], 2), RangeError);
  assert.throws(() => classAgreement([], [], 2), RangeError);
  assert.throws(() => classAgreement([0, 2], [0, 1], 2), /row 1 has prediction 2/);
  assert.throws(() => classAgreement([0, 1], [0, -1], 2), /row 1 has label -1/);
});
