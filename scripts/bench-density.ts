/**
 * `npm run bench:density`: what a density measurement costs per batch, whitening in a JavaScript
 * loop (mahalanobisOutlierScores) against onnxruntime's float64 GEMM over the triangle on one
 * thread (OnnxLinear, as the density signal builds it), at the widths of the shipped models'
 * layers and the batch sizes the service sees. Both sides run in this one process, in turn, on
 * the same matrices; only the ratio means much on a shared machine. The last column says which
 * one the density signal uses at that width (GEMM_MIN_WIDTH).
 *
 * Usage: npm run bench:density [-- --widths 64,128,256,784,1568 --batches 1,4,32 --seconds 1]
 */
import { OnnxLinear } from '../src/compute/onnx-linear.js';
import { GEMM_MIN_WIDTH } from '../src/detector/signals/density.js';
import {
  fitMahalanobis,
  inverseFactor,
  mahalanobisOutlierScores,
  nearestWhitenedMean,
  prepareMahalanobis,
  type MahalanobisModel,
} from '../src/math/mahalanobis.js';
import { createRng, gaussian } from '../src/math/random.js';
import type { Matrix } from '../src/math/matrix.js';
import { parseScriptArgs } from './bench/cli.js';
import { table } from './bench/table.js';

const USAGE = 'usage: npm run bench:density [-- --widths 64,128,256,784,1568] [-- --batches 1,4,32] [-- --seconds 1]\n';
const parsed = parseScriptArgs({ widths: { type: 'string' }, batches: { type: 'string' }, seconds: { type: 'string' } }, USAGE);
if (typeof parsed === 'number') process.exit(parsed);
const args = parsed;
/** A comma-separated list of whole numbers >= 1. */
function list(name: string, fallback: string): number[] {
  const raw = String(args[name] ?? fallback);
  const values = raw.split(',').map(Number);
  if (values.some((v) => !Number.isInteger(v) || v < 1)) {
    process.stderr.write(`--${name} must be whole numbers >= 1, separated by commas, got ${raw}\n${USAGE}`);
    process.exit(2);
  }
  return values;
}
const widths = list('widths', '64,128,256,784,1568');
const batches = list('batches', '1,4,32');
const seconds = Number(args.seconds ?? 1);
if (!(seconds > 0)) {
  process.stderr.write(`--seconds must be a number > 0\n${USAGE}`);
  process.exit(2);
}

function rows(n: number, cols: number, seed: number): Matrix {
  const rng = createRng(seed);
  return { data: Float32Array.from({ length: n * cols }, () => gaussian(rng)), rows: n, cols };
}

/** Mean milliseconds per call of `run`, called for about `seconds` after a warm-up. */
async function timed(run: () => unknown): Promise<number> {
  for (let i = 0; i < 3; i++) await run();
  let calls = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    await run();
    calls++;
  }
  return (performance.now() - start) / calls;
}

const out: (string | number)[][] = [];
for (const width of widths) {
  // A fitted model, so the whitening is a real one; the cost depends only on the width.
  const fit = rows(Math.max(2 * width, 500), width, width);
  const model: MahalanobisModel = fitMahalanobis(fit, Int32Array.from({ length: fit.rows }, (_, i) => i % 10), 10);
  await prepareMahalanobis(model);
  const gemm = await OnnxLinear.create(inverseFactor(model), width, width, { lowerTriangular: true });
  for (const batch of batches) {
    const probe = rows(batch, width, width + batch);
    const js = await timed(() => mahalanobisOutlierScores(model, probe));
    const kernel = await timed(async () => nearestWhitenedMean(model, await gemm.apply(probe.data, batch), batch));
    out.push([width, batch, js.toFixed(3), kernel.toFixed(3), (js / kernel).toFixed(1), width >= GEMM_MIN_WIDTH ? 'GEMM' : 'loop']);
  }
  await gemm.dispose();
}
process.stdout.write(`npm run bench:density, ${new Date().toISOString()}, ${seconds} s per cell\n\n`);
process.stdout.write(`${table(['width', 'batch', 'JavaScript loop, ms', 'onnxruntime GEMM, ms', 'speed-up', 'the density signal uses'], out).join('\n')}\n`);
