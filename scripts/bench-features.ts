/**
 * `npm run bench:features -- --model NAME --features-model NAME --exported FILE --data test_x.npy`:
 * what a request costs each way. The same autocannon loads (one request at a time, many single
 * requests, batches of 32) against the service on the in-process model and on its features
 * model, side by side in one run; the bytes each request carries; and what the model server's
 * forward pass costs with the features added (the original and the exported file on onnxruntime).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadConfig } from '../src/config.js';
import { latenciesOf, latencyPercentiles, runAutocannon } from './bench/autocannon-run.js';
import { numberOption, parseScriptArgs, runMain } from './bench/cli.js';
import { exportedOutputs, featuresInstance, inputRows } from './bench/exported-outputs.js';
import { ServerProcess } from './bench/server.js';
import { SIDE_BY_SIDE_LOADS } from './bench/side-by-side.js';
import { progress } from './bench/stats.js';
import { table } from './bench/table.js';

const USAGE = `usage: npm run bench:features -- --model NAME --features-model NAME --exported model-with-features.onnx
    --original model.onnx --data test_x.npy [--seconds 10] [--rows 256]
`;

/** Bodies of `batch` instances each, cycling through the rows. */
function bodies(instances: readonly unknown[], batch: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => JSON.stringify({ instances: Array.from({ length: batch }, (_, j) => instances[(i * batch + j) % instances.length]) }));
}

/** Mean milliseconds of one onnxruntime run of `rows` rows, over repeated runs after a warm-up. */
async function forwardMs(file: string, x: { shape: number[]; data: Float32Array; cols: number }, rows: number, runs: number): Promise<number> {
  const session = await ort.InferenceSession.create(await readFile(file), { graphOptimizationLevel: 'all' });
  try {
    const feed = { [session.inputNames[0]]: new ort.Tensor('float32', x.data.slice(0, rows * x.cols), [rows, ...x.shape]) };
    for (let i = 0; i < 5; i++) for (const t of Object.values(await session.run(feed))) t.dispose();
    const start = performance.now();
    for (let i = 0; i < runs; i++) for (const t of Object.values(await session.run(feed))) t.dispose();
    return (performance.now() - start) / runs;
  } finally {
    await session.release();
  }
}

async function main(): Promise<number> {
  const values = parseScriptArgs(
    {
      model: { type: 'string' }, 'features-model': { type: 'string' }, exported: { type: 'string' }, original: { type: 'string' },
      data: { type: 'string' }, seconds: { type: 'string' }, rows: { type: 'string' },
    },
    USAGE,
  );
  if (typeof values === 'number') return values;
  const [model, featuresModel, exported, original, data] = [values.model, values['features-model'], values.exported, values.original, values.data] as (string | undefined)[];
  if (!model || !featuresModel || !exported || !original || !data) {
    process.stderr.write(USAGE);
    return 2;
  }
  const seconds = numberOption(values, 'seconds', 10, 1);
  const x = await inputRows(data, numberOption(values, 'rows', 256, 32));
  const outputs = await exportedOutputs(exported, x);
  const config = loadConfig(process.env);
  const info = JSON.parse(await readFile(resolve(config.modelsDir, featuresModel, 'manifest.json'), 'utf8')) as { inputs: { name: string }[] };
  const names = info.inputs.map((i) => i.name);
  // Seven significant digits, as a client serialising float32 would send them.
  const round = (values: Iterable<number>) => Array.from(values, (v) => Number(v.toPrecision(7)));
  const direct = Array.from({ length: x.rows }, (_, r) => round(x.data.subarray(r * x.cols, (r + 1) * x.cols)));
  const features = Array.from({ length: x.rows }, (_, r) => Object.fromEntries(Object.entries(featuresInstance(outputs, names, x.rows, r)).map(([k, v]) => [k, round(v)])));
  const widths = { direct: x.cols, features: names.reduce((sum, name) => sum + outputs[name].length / x.rows, 0) };

  progress('model server forward pass: original and exported file');
  const forward = [1, 32].map((rows) => ({ rows, original: 0, exported: 0 }));
  for (const f of forward) {
    f.original = await forwardMs(original, x, f.rows, f.rows === 1 ? 400 : 100);
    f.exported = await forwardMs(exported, x, f.rows, f.rows === 1 ? 400 : 100);
  }

  // One after the other, so a server that fails to start never leaves the other running.
  const started: { name: string; server: ServerProcess }[] = [];
  const rows: (string | number)[][] = [];
  try {
    for (const name of [model, featuresModel]) started.push({ name, server: (await ServerProcess.start({ root: resolve('.'), cacheDir: config.cacheDir, model: name })).server });
    for (const load of SIDE_BY_SIDE_LOADS) {
      for (const { name, server } of started) {
        const sent = name === model ? direct : features;
        progress(`${name}: batch ${load.batch}, ${load.connections} connection(s), ${seconds} s`);
        const run = await runAutocannon(server.baseUrl, bodies(sent, load.batch, load.batch === 1 ? 200 : 20), { connections: load.connections, durationS: seconds, timeoutS: 30 });
        const answered = run.result.requests.total - run.result.non2xx;
        const { p50, p99 } = latencyPercentiles(latenciesOf(run, (status) => status >= 200 && status < 300));
        rows.push([name === model ? `${name} (in-process)` : `${name} (features)`, load.batch, load.connections, ((answered * load.batch) / run.result.duration).toFixed(0), p50.toFixed(2), p99.toFixed(2), run.result.non2xx + run.result.errors]);
      }
    }
  } finally {
    await Promise.all(started.map(({ server }) => server.stop()));
  }
  const jsonBytes = (instances: unknown[]) => (JSON.stringify({ instances: instances.slice(0, 32) }).length / 32).toFixed(0);
  process.stdout.write(
    [
      `## What a request costs: ${model} in-process against ${featuresModel} fed the outputs of ${exported}`,
      '',
      ...table(['served', 'batch', 'connections', 'predictions/s', 'p50 ms', 'p99 ms', 'failed'], rows),
      '',
      '### What each request carries',
      '',
      ...table(
        ['served', 'values per instance', 'JSON bytes per instance', 'binary (FP32) bytes per instance'],
        [
          [`${model} (in-process): the input`, widths.direct, jsonBytes(direct), widths.direct * 4],
          [`${featuresModel} (features): layers and class scores`, widths.features, jsonBytes(features), widths.features * 4],
        ],
      ),
      '',
      '### The model server\'s forward pass, with and without the added outputs (onnxruntime, this machine)',
      '',
      ...table(['rows per call', `${original} ms`, `${exported} ms`, 'ratio'], forward.map((f) => [f.rows, f.original.toFixed(3), f.exported.toFixed(3), (f.exported / f.original).toFixed(2)])),
      '',
    ].join('\n'),
  );
  return rows.some((r) => Number(r[6]) > 0) ? 1 : 0;
}

runMain('bench:features', main);
