/**
 * A client's view of a running service: posts in-distribution test images and OOD images to
 * POST /predict and reports the AUROC of outlier_score and the share of each set flagged.
 *
 *   OOD_MODEL=fashion-mnist npm start &            # in another terminal
 *   npm run client-check -- --url http://127.0.0.1:8080 --in fashion-mnist --ood mnist --limit 2000
 */
import { parseArgs } from 'node:util';
import { row, type Matrix } from '../src/math/matrix.js';
import { auroc } from '../src/math/ood-metrics.js';
import { loadReferenceSet } from '../src/reference/load-reference-set.js';
import { loadOodSets } from '../src/reference/ood-sets.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    in: { type: 'string', default: 'fashion-mnist' },
    ood: { type: 'string', default: 'mnist' },
    limit: { type: 'string', default: '2000' },
    batch: { type: 'string', default: '100' },
  },
});
const limit = Number(values.limit);
const batch = Number(values.batch);

async function scores(x: Matrix): Promise<{ outlier: number[]; flagged: number }> {
  const outlier: number[] = [];
  let flagged = 0;
  for (let start = 0; start < Math.min(x.rows, limit); start += batch) {
    const n = Math.min(batch, Math.min(x.rows, limit) - start);
    const instances = Array.from({ length: n }, (_, i) => Array.from(row(x, start + i)));
    const res = await fetch(`${values.url}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances }),
    });
    if (!res.ok) throw new Error(`POST /predict answered ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as { predictions: { outlier_score: number; is_outlier: boolean }[] };
    for (const p of body.predictions) {
      outlier.push(p.outlier_score);
      if (p.is_outlier) flagged++;
    }
  }
  return { outlier, flagged: flagged / outlier.length };
}

const info = (await (await fetch(`${values.url}/models/default`)).json()) as { name: string; version: string };
const inSet = await loadReferenceSet('reference-sets', values.in as string);
const [oodSet] = await loadOodSets('reference-sets', values.in as string, { limit, seed: 7, include: [values.ood as string] });
if (!oodSet) throw new Error(`no OOD set named ${values.ood} for ${values.in}`);
const a = await scores(inSet.test.x);
const b = await scores(oodSet.x);
// AUROC takes in-distribution-ness, so outlier scores enter negated.
const separation = auroc(a.outlier.map((v) => -v), b.outlier.map((v) => -v));
process.stdout.write(
  `model ${info.name} v${info.version} at ${values.url}\n` +
    `${values.in} test images: ${a.outlier.length}, flagged ${(100 * a.flagged).toFixed(2)}%\n` +
    `${oodSet.name} images: ${b.outlier.length}, flagged ${(100 * b.flagged).toFixed(2)}%\n` +
    `AUROC of outlier_score (${oodSet.name} as OOD): ${separation.toFixed(4)}\n`,
);
