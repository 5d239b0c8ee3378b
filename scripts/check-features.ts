/**
 * `npm run check-features -- --model NAME --features-model NAME --exported FILE --data test_x.npy`:
 * one ONNX model served two ways, compared as its users would compare them. The service is
 * started on the in-process model and sent test rows; the exported file (export-features) is run
 * on the same rows with onnxruntime, as the model server would run it; the service is started on
 * the features model and sent those outputs. Every p-value of every row must agree to --tolerance.
 * Exit code 1 when any does not.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loadConfig } from '../src/config.js';
import { numberOption, parseScriptArgs, runMain } from './bench/cli.js';
import { exportedOutputs, featuresInstance, inputRows } from './bench/exported-outputs.js';
import { httpRequest } from './bench/http.js';
import { ServerProcess } from './bench/server.js';

const USAGE = `usage: npm run check-features -- --model NAME --features-model NAME --exported model-with-features.onnx
    --data test_x.npy [--rows 500] [--tolerance 1e-5] [--min-exact-share 1] [--max-gap X]
  --model            the model served in-process (runtime onnx)
  --features-model   the same model onboarded as a features model
  --exported         the file export-features wrote: what the model server runs
  --data             rows of the model's input, [N, ...]
  --tolerance        how far a p-value may differ and still count as the same (default 1e-5)
  --min-exact-share  the share of rows whose every p-value must be the same (default 1: all)
  --max-gap          the most any p-value of any row may differ (default: the tolerance)
  A features model built from activations another framework computed (PyTorch) indexes vectors
  that differ from onnxruntime's by float rounding: a few borderline neighbours, and so a few
  p-values, may move. The last two bounds say how many and how far.
`;

type Prediction = { label: string; p_values: Record<string, number> };

/** POST /predict on a freshly started service serving `model`, in batches the service accepts. */
async function served(model: string, instances: unknown[], cacheDir: string): Promise<Prediction[]> {
  const { server } = await ServerProcess.start({ root: resolve('.'), cacheDir, model });
  try {
    const out: Prediction[] = [];
    for (let start = 0; start < instances.length; start += 32) {
      const res = await httpRequest(`${server.baseUrl}/predict`, { method: 'POST', body: JSON.stringify({ instances: instances.slice(start, start + 32) }) });
      if (res.status !== 200) throw new Error(`${model}: /predict answered ${res.status}: ${res.body.slice(0, 300)}`);
      out.push(...(JSON.parse(res.body) as { predictions: Prediction[] }).predictions);
    }
    return out;
  } finally {
    await server.stop();
  }
}

async function main(): Promise<number> {
  const values = parseScriptArgs(
    {
      model: { type: 'string' }, 'features-model': { type: 'string' }, exported: { type: 'string' }, data: { type: 'string' }, rows: { type: 'string' },
      tolerance: { type: 'string' }, 'min-exact-share': { type: 'string' }, 'max-gap': { type: 'string' },
    },
    USAGE,
  );
  if (typeof values === 'number') return values;
  const [model, featuresModel, exported, data] = [values.model, values['features-model'], values.exported, values.data] as (string | undefined)[];
  if (!model || !featuresModel || !exported || !data) {
    process.stderr.write(USAGE);
    return 2;
  }
  const tolerance = numberOption(values, 'tolerance', 1e-5, 0, false);
  const minExactShare = numberOption(values, 'min-exact-share', 1, 0, false);
  const maxGap = numberOption(values, 'max-gap', tolerance, 0, false);
  const x = await inputRows(data, numberOption(values, 'rows', 500, 1));
  const { rows } = x;
  const outputs = await exportedOutputs(exported, x);
  const config = loadConfig(process.env);
  const info = JSON.parse(await readFile(resolve(config.modelsDir, featuresModel, 'manifest.json'), 'utf8')) as { inputs: { name: string }[] };
  const names = info.inputs.map((i) => i.name);
  const missing = names.filter((n) => !outputs[n]);
  if (missing.length > 0) throw new Error(`${exported} has no output ${missing.join(', ')}: the features model takes ${names.join(', ')}`);
  const row = (r: number) => Array.from(x.data.subarray(r * x.cols, (r + 1) * x.cols));
  const direct = await served(model, Array.from({ length: rows }, (_, r) => row(r)), config.cacheDir);
  const viaFeatures = await served(featuresModel, Array.from({ length: rows }, (_, r) => featuresInstance(outputs, names, rows, r)), config.cacheDir);
  const signals = Object.keys(direct[0]?.p_values ?? {});
  const gaps = (signal: string) => direct.map((p, r) => Math.abs(p.p_values[signal] - (viaFeatures[r].p_values[signal] ?? Number.NaN)));
  const perSignal = signals.map((signal) => {
    const g = gaps(signal);
    return { signal, within: g.filter((d) => d <= tolerance).length, worst: Math.max(...g.map((d) => (Number.isNaN(d) ? Infinity : d))) };
  });
  const within = direct.filter((p, r) => signals.every((signal) => Math.abs(p.p_values[signal] - (viaFeatures[r].p_values[signal] ?? Number.NaN)) <= tolerance)).length;
  const sameLabel = direct.filter((p, r) => p.label === viaFeatures[r].label).length;
  const worst = Math.max(...perSignal.map((s) => s.worst));
  const checks = [
    { what: `same label on ${sameLabel}/${rows} rows`, ok: sameLabel === rows },
    { what: `every p-value the same (within ${tolerance}) on ${within}/${rows} rows, at least ${minExactShare} of them`, ok: within >= minExactShare * rows },
    { what: `largest gap of any p-value ${worst.toExponential(2)} <= ${maxGap}`, ok: worst <= maxGap },
  ];
  process.stdout.write(
    [
      `${rows} test rows: ${model} in-process against ${featuresModel} fed the outputs of ${exported}`,
      ...perSignal.map((s) => `  ${s.signal}: within ${tolerance} on ${s.within}/${rows} rows, largest gap ${s.worst.toExponential(2)}`),
      ...checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.what}`),
      '',
    ].join('\n'),
  );
  const ok = checks.every((c) => c.ok);
  return ok ? 0 : 1;
}

runMain('check-features', main);
