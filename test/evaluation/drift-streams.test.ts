import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drawnCalibrationSource, runStream, streamSource, summarize, type PValuePools } from '../../src/evaluation/drift-streams.js';
import { OutlierShareRule } from '../../src/evaluation/outlier-share-rule.js';
import { createRng } from '../../src/math/random.js';

test('the outlier-share rule, evaluated every 15 s, fires after 10 minutes above its bound, and not at the significance', () => {
  const perMinute = 1000;
  // m = 750: the bound is 0.05 + 3 sqrt(0.0475 (1/N + 1/752)), about 0.074 once N = 30,000.
  const run = (share: number) => {
    const rule = new OutlierShareRule({ significance: 0.05, calibrationSize: 750, perMinute });
    for (let t = 0; t < 60 * perMinute; t++) rule.update(t % 1000 < share * 1000 ? 0.01 : 0.5);
    return rule.firedAt;
  };
  assert.equal(run(0.05), undefined);
  assert.equal(run(0.07), undefined);
  // At 0.1 the condition holds from the first evaluation with over 100 predictions (15 s, 250
  // predictions in), so the alert fires 40 evaluations (10 minutes) later.
  assert.equal(run(0.1), 41 * 250);
});

test('summarize splits false alarms, delays and misses', () => {
  const s = summarize([5, 120, 150, undefined, 110, 200, 130, 140, 160, 170, 180], 100);
  assert.equal(s.falseAlarms, 1);
  assert.equal(s.missed, 1);
  assert.equal(s.streams, 11);
  // delays: 10 20 30 40 50 60 70 80 100 and one infinite
  assert.equal(s.median, 50);
  assert.equal(s.p90, 100);
});

const pools: PValuePools = {
  clean: Float64Array.from({ length: 1000 }, (_, i) => (i + 1) / 1001),
  cleanLabels: Int32Array.from({ length: 1000 }, (_, i) => i % 10),
  ood: Float64Array.of(0.001),
  rotated: [Float64Array.of(0.2), Float64Array.of(0.3), Float64Array.of(0.4)],
};

test('stream sources are clean before the shift and shifted after it', () => {
  const rng = createRng(1);
  const ood = streamSource(pools, { kind: 'ood', share: 0.2 }, 100);
  const before = Array.from({ length: 100 }, (_, t) => ood(t, rng));
  assert.ok(!before.includes(0.001));
  const after = Array.from({ length: 10_000 }, (_, t) => ood(100 + t, rng)).filter((p) => p === 0.001).length;
  assert.ok(Math.abs(after / 10_000 - 0.2) < 0.02, `${after}`);
  const rotation = streamSource(pools, { kind: 'rotation', perDegree: 10 }, 50);
  assert.deepEqual([rotation(55, rng), rotation(65, rng), rotation(75, rng), rotation(500, rng)], [0.2, 0.3, 0.4, 0.4]);
  const prior = streamSource(pools, { kind: 'prior', label: 3 }, 0);
  // Class 3 is the rows i with i % 10 === 3: p-values (i + 1) / 1001.
  const draws = Array.from({ length: 10_000 }, (_, t) => prior(t, rng));
  const inClass = draws.filter((p) => Math.round(p * 1001 - 1) % 10 === 3).length;
  assert.ok(Math.abs(inClass / 10_000 - 0.5) < 0.03, `${inClass}`);
});

test('a stream run finds a strong shift with the drift test, and nothing on a clean stream', () => {
  const options = { calibrationSize: 1000, significance: 0.05, delta: 0.01, perMinute: 600, length: 60_000, shiftAt: 20_000, seed: 4 };
  const shifted = runStream(streamSource(pools, { kind: 'ood', share: 0.2 }, 20_000), options);
  assert.ok(shifted.drift !== undefined && shifted.drift > 20_000 && shifted.drift < 21_000, `${shifted.drift}`);
  assert.ok(shifted.rule !== undefined && shifted.rule > shifted.drift);
  const clean = runStream(streamSource(pools, { kind: 'none' }, Infinity), { ...options, withoutTolerance: true });
  assert.equal(clean.drift, undefined);
  assert.equal(clean.rule, undefined);
  assert.equal(clean.withoutTolerance, undefined);
});

test('a drawn calibration set gives p-values on its grid, at the rates its own scores set', () => {
  const n = 9;
  const source = drawnCalibrationSource(n, 3);
  const rng = createRng(5);
  const p = Array.from({ length: 50_000 }, (_, t) => source(t, rng));
  assert.ok(p.every((v) => Number.isInteger(Math.round(v * (n + 1) * 1e9) / 1e9)));
  // p = 1/(n+1) exactly when the test score is above every calibration score.
  const top = Math.max(...Array.from({ length: n }, createRng(3)));
  const share = p.filter((v) => v <= 1 / (n + 1) + 1e-12).length / p.length;
  assert.ok(Math.abs(share - (1 - top)) < 0.01, `${share} vs ${1 - top}`);
});
