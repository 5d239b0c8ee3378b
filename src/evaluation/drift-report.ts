import { CALIBRATION_RISK_SHARE, DriftStatistic } from '../drift/drift-statistic.js';
import { DRIFT_THRESHOLDS, driftBets, gridThresholds } from '../math/drift-bets.js';
import { createRng } from '../math/random.js';
import { lineChartSvg } from '../report/svg-line-chart.js';
import { drawnCalibrationSource, runStream, streamSource, summarize, type PValuePools, type Shift, type ShiftSummary } from './drift-streams.js';

/** A model's pools and what its p-values were computed with. */
export interface DriftInput {
  model: string;
  role: string;
  partner: string;
  pools: PValuePools;
  calibrationSize: number;
  significance: number;
}

export interface ScenarioResult {
  name: string;
  drift: ShiftSummary;
  rule: ShiftSummary;
  /** Streams in which the calibration part, not the stream part, crossed first. */
  byCalibration: number;
}

export interface DriftModel {
  model: string;
  role: string;
  partner: string;
  calibrationSize: number;
  significance: number;
  delta: number;
  heldOut: number;
  clean: { streams: number; length: number; drift: number; rule: number; withoutTolerance: number; peakMedian: number };
  tolerance: { nominal: number; heldOut: number; reference: number }[];
  scenarios: ScenarioResult[];
  /** log10 of the statistic against predictions since the shift, one stream per scenario, for the chart. */
  traces: { name: string; points: [number, number][] }[];
}

export const CLEAN_LENGTH = 1_000_000;

/** Clean streams, each against a calibration set drawn afresh: how often each version alarms. */
export interface CalibrationDraws {
  calibrationSize: number;
  streams: number;
  drift: number;
  withoutTolerance: number;
}

export function simulateCalibrationDraws(calibrationSize: number, streams: number, delta: number): CalibrationDraws {
  const runs = Array.from({ length: streams }, (_, s) =>
    runStream(drawnCalibrationSource(calibrationSize, 500 + s), {
      calibrationSize,
      significance: 0.05,
      delta,
      perMinute: PER_MINUTE,
      length: CLEAN_LENGTH,
      shiftAt: Infinity,
      seed: 9000 + s,
      withoutTolerance: true,
    }),
  );
  return {
    calibrationSize,
    streams,
    drift: runs.filter((r) => r.drift !== undefined).length,
    withoutTolerance: runs.filter((r) => r.withoutTolerance !== undefined).length,
  };
}
export const SHIFT_AT = 50_000;
export const AFTER_SHIFT = 200_000;
/** 10 predictions a second: the outlier-share rule's minutes, in predictions. */
export const PER_MINUTE = 600;

/** The class whose held-out rows are flagged most (or least) often. */
function flaggedClass(pools: PValuePools, significance: number, most: boolean): number {
  const flagged = new Map<number, [number, number]>();
  pools.clean.forEach((p, i) => {
    const [f, n] = flagged.get(pools.cleanLabels[i]) ?? [0, 0];
    flagged.set(pools.cleanLabels[i], [f + (p <= significance ? 1 : 0), n + 1]);
  });
  const rates = [...flagged.entries()].map(([label, [f, n]]) => [label, f / n] as const).sort((a, b) => a[1] - b[1]);
  return (most ? rates[rates.length - 1] : rates[0])[0];
}

interface Scenario {
  name: string;
  shift: Shift;
  /** The prediction the shift begins at: SHIFT_AT, or 0 for traffic shifted from the start. */
  at: number;
}

function scenarios(input: DriftInput, labels: string[]): Scenario[] {
  const most = flaggedClass(input.pools, input.significance, true);
  const least = flaggedClass(input.pools, input.significance, false);
  return [
    { name: `1% ${input.partner}`, shift: { kind: 'ood', share: 0.01 }, at: SHIFT_AT },
    { name: `5% ${input.partner}`, shift: { kind: 'ood', share: 0.05 }, at: SHIFT_AT },
    { name: `20% ${input.partner}`, shift: { kind: 'ood', share: 0.2 }, at: SHIFT_AT },
    { name: `5% ${input.partner} from the first prediction`, shift: { kind: 'ood', share: 0.05 }, at: 0 },
    { name: `20% ${input.partner} from the first prediction`, shift: { kind: 'ood', share: 0.2 }, at: 0 },
    { name: 'rotation, +1° every 1,000', shift: { kind: 'rotation', perDegree: 1000 }, at: SHIFT_AT },
    { name: `class prior: ${labels[most] ?? most} (most flagged) half the traffic`, shift: { kind: 'prior', label: most }, at: SHIFT_AT },
    { name: `class prior: ${labels[least] ?? least} (least flagged) half the traffic`, shift: { kind: 'prior', label: least }, at: SHIFT_AT },
  ];
}

/** One stream's log10 statistic every 250 predictions, from 10,000 before the shift to 60,000 after. */
function trace(input: DriftInput, { shift, at }: Scenario, delta: number): [number, number][] {
  const source = streamSource(input.pools, shift, at);
  const rng = createRng(77);
  const statistic = new DriftStatistic({ calibrationSize: input.calibrationSize, delta, rng: createRng(78) });
  const points: [number, number][] = [];
  for (let t = 0; t < at + 60_000; t++) {
    statistic.update(source(t, rng));
    if (t >= at - 10_000 && (t + 1) % 250 === 0) points.push([t + 1 - at, statistic.log10()]);
  }
  return points;
}

export function simulateModel(input: DriftInput, options: { streams: number; delta: number; labels?: string[] }): DriftModel {
  const { streams, delta } = options;
  const common = { calibrationSize: input.calibrationSize, significance: input.significance, delta, perMinute: PER_MINUTE };
  const cleanRuns = Array.from({ length: streams }, (_, s) =>
    runStream(streamSource(input.pools, { kind: 'none' }, Infinity), { ...common, length: CLEAN_LENGTH, shiftAt: Infinity, seed: 1 + s, withoutTolerance: true }),
  );
  const peaks = cleanRuns.map((r) => r.peak).sort((a, b) => a - b);
  const all = scenarios(input, options.labels ?? []);
  const results = all.map(({ name, shift, at }, k) => {
    // Seeds of their own per scenario, so their clean stretches are not the same streams again.
    const runs = Array.from({ length: streams }, (_, s) =>
      runStream(streamSource(input.pools, shift, at), { ...common, length: at + AFTER_SHIFT, shiftAt: at, seed: 1000 * (k + 1) + s }),
    );
    return {
      name,
      drift: summarize(runs.map((r) => r.drift), at),
      rule: summarize(runs.map((r) => r.rule), at),
      byCalibration: runs.filter((r) => r.driftPart === 'calibration' && (r.drift ?? 0) > at).length,
    };
  });
  const n = input.calibrationSize;
  const bets = driftBets({ calibrationSize: n, risk: delta * CALIBRATION_RISK_SHARE });
  const tolerance = gridThresholds(n, DRIFT_THRESHOLDS).map((j) => {
    const bet = bets.find((b) => Math.round(b.threshold * (n + 1) - 0.5) === j);
    return {
      nominal: j / (n + 1),
      heldOut: input.pools.clean.filter((p) => p <= (j + 0.5) / (n + 1)).length / input.pools.clean.length,
      reference: bet?.reference ?? NaN,
    };
  });
  return {
    model: input.model,
    role: input.role,
    partner: input.partner,
    calibrationSize: n,
    significance: input.significance,
    delta,
    heldOut: input.pools.clean.length,
    clean: {
      streams,
      length: CLEAN_LENGTH,
      drift: cleanRuns.filter((r) => r.drift !== undefined).length,
      rule: cleanRuns.filter((r) => r.rule !== undefined).length,
      withoutTolerance: cleanRuns.filter((r) => r.withoutTolerance !== undefined).length,
      peakMedian: peaks[Math.floor(peaks.length / 2)],
    },
    tolerance,
    scenarios: results,
    // The chart shows the shifts that begin after a clean stretch.
    traces: all.filter((s) => s.at > 0).map((s) => ({ name: s.name, points: trace(input, s, delta) })),
  };
}

const delay = (s: ShiftSummary, which: 'median' | 'p90') => {
  const v = s[which];
  if (Number.isNaN(v)) return 'n/a';
  return v === Infinity ? `> ${AFTER_SHIFT.toLocaleString('en-US')}` : v.toLocaleString('en-US');
};

function scenarioTable(m: DriftModel): string[] {
  const lines = [
    '| shift (from prediction 50,000 unless said) | drift test: median delay | p90 | missed | false alarms | of its alarms, by the calibration part | outlier-share rule: median delay | p90 | missed | false alarms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const s of m.scenarios) {
    lines.push(
      `| ${s.name} | ${delay(s.drift, 'median')} | ${delay(s.drift, 'p90')} | ${s.drift.missed} | ${s.drift.falseAlarms} | ${s.byCalibration} | ` +
        `${delay(s.rule, 'median')} | ${delay(s.rule, 'p90')} | ${s.rule.missed} | ${s.rule.falseAlarms} |`,
    );
  }
  return lines;
}

export interface RenderOptions {
  missing: string[];
  seconds: number;
  backend: string;
  streams: number;
  delta: number;
  /** Microseconds one update of the statistic took, on average over a million. */
  updateMicros: number;
}

/** What the clean streams say about the tolerance, in words that follow the figures. */
function withoutToleranceNote(models: DriftModel[]): string {
  const excess = Math.max(0, ...models.flatMap((m) => m.tolerance.map((t) => t.heldOut - t.nominal)));
  const tail = 'The tolerance is what makes the bound hold for every calibration set; the next table shows what it does for the unlucky ones.';
  if (models.every((m) => m.clean.withoutTolerance === 0)) {
    return (
      `Without tolerance, none of these streams alarms either: the held-out rates exceed the nominal ones by at most ${excess.toFixed(4)} here, ` +
      `and even the smallest stake (1%) loses on an excess that small. ${tail}`
    );
  }
  return `Without tolerance, some of these streams alarm: the held-out rates exceed the nominal ones by up to ${excess.toFixed(4)}. ${tail}`;
}

export function renderDriftReport(models: DriftModel[], draws: CalibrationDraws[], options: RenderOptions): string {
  const out: string[] = [
    '# Drift alarms: measured',
    '',
    '<!-- Written by `npm run drift:eval`; edit src/evaluation/drift-report.ts, not this file. -->',
    '',
    'The drift test (docs/design.md §4) and the outlier-share alert rule (`OodOutlierShareHigh`, deploy/prometheus/alerts.yml), ' +
      'replayed on the same simulated streams. Every p-value in a stream is one the model really gave: on its held-out ' +
      'in-distribution rows before the shift, on the shifted inputs after it. Delays are in predictions after the shift ' +
      `began; "missed" counts streams with no alarm within ${AFTER_SHIFT.toLocaleString('en-US')} predictions of it; ` +
      '"false alarms" counts streams that alarmed before it. The rule is replayed as Prometheus evaluates it with the ' +
      `shipped configuration: every 15 s on the last 30 minutes, firing after 10 minutes true, with traffic at 10 predictions a second (${PER_MINUTE} a minute). ` +
      'The drift test\'s delays are where its statistic crossed; its alert (`OodDriftDetected`) follows within a scrape and an evaluation, 30 s or 300 predictions at that rate.',
    '',
    `Run: \`npm run drift:eval\`, ${options.streams} streams per scenario, delta = ${options.delta} (OOD_DRIFT_DELTA), ` +
      `tfjs backend ${options.backend}, ${Math.round(options.seconds)} s. What the drift test adds to the scoring path per prediction ` +
      `(a ticket, the update and the alarm check, with one-row requests) took ${options.updateMicros.toFixed(2)} µs on average over a million.`,
    '',
    '![log10 of the drift statistic around each shift](drift.svg)',
    '',
  ];
  if (options.missing.length) out.push(`Not measured here: ${options.missing.join(', ')} (not onboarded on this machine; \`npm run example:pytorch\` onboards fashion-cnn).`, '');
  out.push(
    '## False alarms on clean traffic',
    '',
    `Each stream: ${CLEAN_LENGTH.toLocaleString('en-US')} predictions resampled from the model's held-out in-distribution rows. ` +
      '"Without tolerance" is the calibration part betting against exact uniformity instead: what the tolerance is for.',
    '',
    '| model | held-out rows | calibration scores (n) | drift test | outlier-share rule | without tolerance | median peak log10 of the statistic |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...models.map(
      (m) =>
        `| ${m.model} (${m.role}) | ${m.heldOut} | ${m.calibrationSize} | ${m.clean.drift} of ${m.clean.streams} | ${m.clean.rule} of ${m.clean.streams} | ` +
        `${m.clean.withoutTolerance} of ${m.clean.streams} | ${m.clean.peakMedian.toFixed(2)} |`,
    ),
    '',
    withoutToleranceNote(models),
    '',
    '## Unlucky calibration sets',
    '',
    `Clean streams of ${CLEAN_LENGTH.toLocaleString('en-US')} p-values, each computed against a calibration set of n scores drawn afresh for the stream ` +
      '(scores i.i.d. uniform, test and calibration alike), so that each stream meets the luck of its own draw, as a deployed model does.',
    '',
    '| calibration scores (n) | streams | drift test alarms | without tolerance |',
    '| ---: | ---: | ---: | ---: |',
    ...draws.map((d) => `| ${d.calibrationSize} | ${d.streams} | ${d.drift} | ${d.withoutTolerance} |`),
    '',
    '## The tolerance at work',
    '',
    'For each step the calibration part bets on: the nominal rate j/(n+1), the rate on the held-out rows, and the reference rate the bet treats as clean ' +
      '(the Beta(j, n+1-j) upper quantile). The part is a supermartingale on a clean stream whenever every held-out rate is below its reference.',
    '',
  );
  for (const m of models) {
    out.push(`**${m.model}**`, '', '| nominal | held-out | reference |', '| ---: | ---: | ---: |');
    for (const t of m.tolerance) out.push(`| ${t.nominal.toFixed(4)} | ${t.heldOut.toFixed(4)} | ${t.reference.toFixed(4)} |`);
    out.push('');
  }
  out.push(
    '## Shifts',
    '',
    'The class-prior shifts send no OOD input at all. Whether they should alarm is argued in docs/design.md §4: the test ' +
      'asks whether the traffic is still drawn like the calibration data, so a mix that brings more small p-values (a hard class) ' +
      'should, and does; a mix towards an easy class moves the p-values up, which bets on small p-values do not see.',
    '',
  );
  for (const m of models) {
    out.push(
      `### ${m.model}`,
      '',
      `Significance ${m.significance}; OOD inputs from ${m.partner}.`,
      '',
      ...scenarioTable(m),
      '',
    );
  }
  return `${out.join('\n')}\n`;
}

export function driftChartSvg(models: DriftModel[]): string {
  const model = models.find((m) => m.model === 'fashion-mnist') ?? models[0];
  if (!model) return lineChartSvg({ title: 'no model measured', xLabel: '', yLabel: '', series: [] });
  const threshold = Math.log10(1 / model.delta);
  const xs = model.traces[0]?.points.map(([x]) => x) ?? [0];
  return lineChartSvg({
    title: `${model.model}: drift statistic per shift (log10, drawn up to 6)`,
    xLabel: 'predictions since the shift began',
    yLabel: 'log10 statistic',
    series: [
      ...model.traces.map((t) => ({ name: t.name, points: t.points.map(([x, y]) => [x, Math.min(y, 6)] as [number, number]) })),
      { name: 'alarm threshold, log10(1/delta)', points: [[xs[0], threshold], [xs[xs.length - 1], threshold]] },
    ],
    yDomain: [-2, 6],
    legend: 'bottom',
    markers: false,
  });
}
