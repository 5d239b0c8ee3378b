import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  auprIn,
  auprOut,
  auroc,
  detectionError,
  evaluateScores,
  fprAtTpr,
} from '../../src/math/ood-metrics.js';

function assertClose(actual: number, expected: number): void {
  assert.ok(Math.abs(actual - expected) < 1e-12, `expected ${expected}, got ${actual}`);
}

test('perfect separation', () => {
  const metrics = evaluateScores([0.9, 0.8, 0.7], [0.3, 0.2, 0.1]);
  assert.deepEqual(metrics, { auroc: 1, fprAt95Tpr: 0, auprIn: 1, auprOut: 1, detectionError: 0 });
});

test('perfectly wrong', () => {
  const metrics = evaluateScores([0.1, 0.2], [0.8, 0.9]);
  assert.equal(metrics.auroc, 0);
  assert.equal(metrics.fprAt95Tpr, 1);
  assert.equal(metrics.detectionError, 0.5);
});

test('identical scores', () => {
  const metrics = evaluateScores([0.5, 0.5], [0.5, 0.5]);
  assert.equal(metrics.auroc, 0.5);
  assert.equal(metrics.fprAt95Tpr, 1);
  assert.equal(metrics.auprIn, 0.5);
  assert.equal(metrics.auprOut, 0.5);
  assert.equal(metrics.detectionError, 0.5);
});

test('a 3 + 3 example worked by hand', () => {
  const inScores = [0.9, 0.8, 0.4];
  const outScores = [0.7, 0.6, 0.2];
  // 0.9 and 0.8 beat all 3 OOD scores, 0.4 beats only 0.2: 7 of 9 pairs.
  assertClose(auroc(inScores, outScores), 7 / 9);
  // Keeping 3 of 3 in-distribution samples needs threshold 0.4, which accepts 0.7 and 0.6.
  assertClose(fprAtTpr(inScores, outScores), 2 / 3);
  // Keeping 2 of 3 (tpr 0.6 -> ceil(1.8) = 2) needs threshold 0.8, which accepts no OOD.
  assertClose(fprAtTpr(inScores, outScores, 0.6), 0);
  // Ranked: in in out out in out -> precision at each in: 1, 1, 3/5.
  assertClose(auprIn(inScores, outScores), (1 + 1 + 3 / 5) / 3);
  // Ranked by -score: out in out out in in -> precision at each out: 1, 2/3, 3/4.
  assertClose(auprOut(inScores, outScores), (1 + 2 / 3 + 3 / 4) / 3);
  // Threshold 0.8: TPR 2/3, FPR 0 -> 0.5 * 1/3.
  assertClose(detectionError(inScores, outScores), 1 / 6);
  const all = evaluateScores(inScores, outScores);
  assertClose(all.auroc, 7 / 9);
  assertClose(all.fprAt95Tpr, 2 / 3);
  assertClose(all.auprIn, 2.6 / 3);
  assertClose(all.auprOut, (1 + 2 / 3 + 3 / 4) / 3);
  assertClose(all.detectionError, 1 / 6);
});

test('ties count half and are never split by a threshold', () => {
  const inScores = [1, 1];
  const outScores = [1, 0];
  // Pairs: (1, 1) tie -> 0.5, (1, 0) -> 1, twice: 3 / 4.
  assertClose(auroc(inScores, outScores), 0.75);
  // Threshold 1 accepts both in-distribution samples and the tied OOD one.
  assertClose(fprAtTpr(inScores, outScores), 0.5);
  // One threshold holds 2 in + 1 out: recall jumps 0 -> 1 at precision 2/3.
  assertClose(auprIn(inScores, outScores), 2 / 3);
  // By -score: -0 (out) first, then -1 (out, in, in): precisions 1 then 2/4 for recall 1/2 each.
  assertClose(auprOut(inScores, outScores), 0.5 * 1 + 0.5 * 0.5);
  assertClose(detectionError(inScores, outScores), 0.25);
});

test('FPR@95TPR picks the ceil(0.95 n)-th largest in-distribution score', () => {
  // 20 in-distribution scores 1..20: 19 must be kept, so the threshold is 2; the OOD score
  // tied with it is accepted.
  const inScores = Array.from({ length: 20 }, (_, i) => i + 1);
  assertClose(fprAtTpr(inScores, [1.5, 2, 2.5, 0]), 2 / 4);
  assertClose(fprAtTpr(inScores, [1.5, 0]), 0);
});

test('rank-based AUROC agrees with the pairwise definition on larger data', () => {
  let seed = 1;
  const next = (): number => {
    seed = (seed * 16807) % 2147483647;
    return Math.floor((seed / 2147483647) * 50);
  };
  const inScores = Array.from({ length: 300 }, () => next() + 10);
  const outScores = Array.from({ length: 200 }, next);
  let wins = 0;
  for (const a of inScores) for (const b of outScores) wins += a > b ? 1 : a === b ? 0.5 : 0;
  assertClose(auroc(inScores, outScores), wins / (300 * 200));
});

test('input validation', () => {
  assert.throws(() => auroc([], [1]), RangeError);
  assert.throws(() => auroc([1], [Number.NaN]), RangeError);
  assert.throws(() => fprAtTpr([1], [0], 0), RangeError);
  assert.throws(() => fprAtTpr([1], [0], 1.5), RangeError);
});
