import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CalibrationScores, credibilityAndConfidence, nonconformity, robustScale } from '../../src/math/conformal.js';
import { createRng, gaussian } from '../../src/math/random.js';

test('p-values count calibration scores >= the score, plus one, over n + 1', () => {
  const calibration = new CalibrationScores([3, 1, 2, 4]);
  assert.equal(calibration.size, 4);
  assert.equal(calibration.pValue(0), 5 / 5); // all 4 are >= 0
  assert.equal(calibration.pValue(1), 5 / 5);
  assert.equal(calibration.pValue(1.5), 4 / 5); // 2, 3, 4
  assert.equal(calibration.pValue(4), 2 / 5); // only 4
  assert.equal(calibration.pValue(4.5), 1 / 5); // stranger than every calibration point
});

test('ties count as at least as strange', () => {
  const calibration = new CalibrationScores([5, 5, 5, 1, 9]);
  assert.equal(calibration.pValue(5), 5 / 6); // 5, 5, 5, 9 and the point itself
  assert.equal(calibration.pValue(5.0001), 2 / 6);
  assert.equal(calibration.pValue(4.9999), 5 / 6);
  assert.equal(calibration.pValue(Number.NaN), 1 / 6);
});

test('JSON round trip keeps every p-value', () => {
  const calibration = new CalibrationScores([0.5, -2, 7, 7, 3]);
  const json = JSON.parse(JSON.stringify(calibration)) as unknown;
  assert.deepEqual(json, [-2, 0.5, 3, 7, 7]);
  const restored = CalibrationScores.fromJSON(json);
  for (const s of [-3, -2, 0, 3, 7, 8]) assert.equal(restored.pValue(s), calibration.pValue(s));
  assert.throws(() => CalibrationScores.fromJSON({ scores: [1] }), TypeError);
  assert.throws(() => CalibrationScores.fromJSON([1, 'a']), TypeError);
  assert.throws(() => new CalibrationScores([]), RangeError);
  assert.throws(() => new CalibrationScores([1, Number.NaN]), RangeError);
});

test('flag rate P(p <= 0.05) on exchangeable data is about 0.05', () => {
  // With n = 99, alpha * (n + 1) = 5 is an integer, so the exact rate is 0.05.
  const rng = createRng(2024);
  let flagged = 0;
  let total = 0;
  for (let trial = 0; trial < 200; trial++) {
    const calibration = new CalibrationScores(Array.from({ length: 99 }, () => gaussian(rng)));
    for (let i = 0; i < 100; i++) {
      if (calibration.pValue(gaussian(rng)) <= 0.05) flagged++;
      total++;
    }
  }
  const rate = flagged / total;
  assert.ok(rate >= 0.03 && rate <= 0.07, `flag rate ${rate}`);
});

test('integer (tied) scores keep the flag rate at or below alpha', () => {
  // DkNN nonconformity is an integer, so ties are common; counting them as stranger is conservative.
  const rng = createRng(77);
  const draw = (): number => Math.floor(rng() * 6);
  let flagged = 0;
  const trials = 20000;
  for (let trial = 0; trial < trials / 50; trial++) {
    const calibration = new CalibrationScores(Array.from({ length: 49 }, draw));
    for (let i = 0; i < 50; i++) if (calibration.pValue(draw()) <= 0.2) flagged++;
  }
  assert.ok(flagged / trials <= 0.2, `flag rate ${flagged / trials}`);
});

test('robustScale: median and 1.4826 * MAD', () => {
  // median 3; deviations 2 1 0 1 97 -> MAD 1
  assert.deepEqual(robustScale([1, 2, 3, 4, 100]), { center: 3, scale: 1.4826 });
  // even count: median 2.5; deviations 1.5 0.5 0.5 1.5 -> MAD 1
  assert.deepEqual(robustScale([4, 1, 3, 2]), { center: 2.5, scale: 1.4826 });
});

test('robustScale: MAD of 0 falls back to the mean absolute deviation, constants to a floor', () => {
  // median 0, deviations 0 0 0 0 5: MAD 0, mean absolute deviation 1
  const mostlyZero = robustScale([0, 0, 0, 0, 5]);
  assert.equal(mostlyZero.center, 0);
  assert.equal(mostlyZero.scale, Math.sqrt(Math.PI / 2));
  assert.deepEqual(robustScale([7, 7, 7]), { center: 7, scale: 7e-12 });
  assert.deepEqual(robustScale([0]), { center: 0, scale: 1e-12 });
  assert.throws(() => robustScale([]), RangeError);
  assert.throws(() => robustScale([1, Number.POSITIVE_INFINITY]), RangeError);
});

test('nonconformity sums k - in-class count over layers', () => {
  assert.equal(nonconformity([75, 70, 60], 75), 0 + 5 + 15);
  assert.equal(nonconformity([0, 0], 3), 6);
  assert.equal(nonconformity([], 3), 0);
  assert.throws(() => nonconformity([4], 3), RangeError);
  assert.throws(() => nonconformity([-1], 3), RangeError);
});

test('credibility, confidence and knnLabel', () => {
  const pValues = [0.1, 0.6, 0.3, 0.05];
  assert.deepEqual(credibilityAndConfidence(pValues, 1), { credibility: 0.6, confidence: 0.7, knnLabel: 1 });
  // The model may disagree with the kNN vote: credibility is about the model's own label.
  assert.deepEqual(credibilityAndConfidence(pValues, 3), { credibility: 0.05, confidence: 0.7, knnLabel: 1 });
  // A tie at the top: the lowest index wins and confidence reflects the tied runner-up.
  assert.deepEqual(credibilityAndConfidence([0.5, 0.5, 0.1], 0), { credibility: 0.5, confidence: 0.5, knnLabel: 0 });
  assert.deepEqual(credibilityAndConfidence([0.4], 0), { credibility: 0.4, confidence: 1, knnLabel: 0 });
  assert.throws(() => credibilityAndConfidence(pValues, 4), RangeError);
});
