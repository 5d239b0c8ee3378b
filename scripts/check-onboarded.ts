/**
 * `npm run check-onboarded -- --model NAME ...`: an onboarded model checked as its users would
 * check it. The service's outlier score is evaluated on the model's held-out test data and its
 * OOD sets (AUROC and flag rates, printed as markdown), each figure is compared with a bound
 * given on the command line, and the model is served and sent a PNG (`{"b64": ...}`) and a
 * nested numeric instance. Exit code 1 when any check fails.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadConfig } from '../src/config.js';
import { detectorSettings } from '../src/detector-settings.js';
import { evaluateModel } from '../src/evaluation/evaluate-model.js';
import { evaluationMarkdown } from '../src/evaluation/format.js';
import { createCliLogger } from '../src/log.js';
import { initBackend } from '../src/model/backend.js';
import { numberOption, parseScriptArgs, runMain } from './bench/cli.js';
import { httpRequest } from './bench/http.js';
import { ServerProcess } from './bench/server.js';

const USAGE = `usage: npm run check-onboarded -- --model NAME [--partner REFSET] [--limit N]
    [--max-flag-rate X] [--min-auroc SET=X,SET=X] [--image-dir DIR] [--ood-texts NAME=FILE,...]
  --max-flag-rate  bound on the share of held-out in-distribution test rows flagged
  --min-auroc      bound on the service score's AUROC per OOD set (e.g. mnist=0.98,uniform-noise=0.99)
  --image-dir      a folder of class folders of PNG/JPEG images to send as {"b64": ...}
  --ood-texts      OOD sets of a text model: one text per line (.txt) or {"text"} per line (.jsonl)
`;

interface Check {
  what: string;
  ok: boolean;
}

async function firstImage(dir: string): Promise<{ file: string; label: string }> {
  for (const folder of (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const files = (await readdir(join(dir, folder.name))).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
    if (files.length > 0) return { file: join(dir, folder.name, files[0]), label: folder.name };
  }
  throw new Error(`${dir} holds no class folder with an image`);
}

async function main(): Promise<number> {
  const values = parseScriptArgs(
    {
      model: { type: 'string' }, partner: { type: 'string' }, limit: { type: 'string' },
      'max-flag-rate': { type: 'string' }, 'min-auroc': { type: 'string' }, 'image-dir': { type: 'string' },
      'ood-texts': { type: 'string' },
    },
    USAGE,
  );
  if (typeof values === 'number') return values;
  const model = values.model as string | undefined;
  if (!model) {
    process.stderr.write(USAGE);
    return 2;
  }
  const log = createCliLogger(process.env.LOG_LEVEL ?? 'warn');
  const config = loadConfig({ ...process.env, OOD_MODEL: model });
  await initBackend(config.backend);
  const evaluation = await evaluateModel(
    detectorSettings(config),
    { limit: numberOption(values, 'limit', 10_000, 1), seed: 7, partner: values.partner as string | undefined, textSets: textSets(values['ood-texts']) },
    log,
  );
  process.stdout.write(evaluationMarkdown(evaluation));
  const checks: Check[] = [];
  const maxFlag = values['max-flag-rate'] === undefined ? undefined : Number(values['max-flag-rate']);
  if (maxFlag !== undefined) {
    checks.push({
      what: `held-out ${evaluation.referenceSet} test rows flagged ${(100 * evaluation.inDistributionFlagged).toFixed(2)}% <= ${(100 * maxFlag).toFixed(1)}%`,
      ok: evaluation.inDistributionFlagged <= maxFlag,
    });
  }
  for (const bound of ((values['min-auroc'] as string | undefined) ?? '').split(',').filter(Boolean)) {
    const [set, min] = bound.split('=');
    const found = evaluation.sets.find((s) => s.name === set);
    const auroc = found?.metrics.service.auroc ?? Number.NaN;
    checks.push({ what: `AUROC of outlier_score against ${set} ${auroc.toFixed(4)} >= ${min}`, ok: auroc >= Number(min) });
  }

  const server = (await ServerProcess.start({ root: resolve('.'), cacheDir: config.cacheDir, model })).server;
  try {
    const info = JSON.parse((await httpRequest(`${server.baseUrl}/models/default`)).body) as { input_shape: number[]; text?: unknown };
    if (info.text) {
      const text = 'list directory contents';
      const res = await httpRequest(`${server.baseUrl}/predict`, { method: 'POST', body: JSON.stringify({ instances: [text] }) });
      const label = res.status === 200 ? (JSON.parse(res.body) as { predictions: { label: string }[] }).predictions[0].label : undefined;
      checks.push({ what: `served: the text "${text}" answers ${res.status}, label "${label}"`, ok: res.status === 200 });
    } else {
      const zeros = info.input_shape.reduceRight<unknown>((inner, dim) => Array.from({ length: dim }, () => inner), 0);
      const numeric = await httpRequest(`${server.baseUrl}/predict`, { method: 'POST', body: JSON.stringify({ instances: [zeros] }) });
      checks.push({ what: `served: a nested [${info.input_shape.join(', ')}] instance answers ${numeric.status}`, ok: numeric.status === 200 });
    }
    if (values['image-dir']) {
      const { file, label } = await firstImage(values['image-dir'] as string);
      const b64 = (await readFile(file)).toString('base64');
      const res = await httpRequest(`${server.baseUrl}/predict`, { method: 'POST', body: JSON.stringify({ instances: [{ b64 }] }) });
      const prediction = res.status === 200 ? (JSON.parse(res.body) as { predictions: { label: string; is_outlier: boolean }[] }).predictions[0] : undefined;
      checks.push({
        what: `served: ${file} as {"b64": ...} answers ${res.status}, label "${prediction?.label}" (folder "${label}"), is_outlier ${prediction?.is_outlier}`,
        ok: res.status === 200,
      });
    }
  } finally {
    await server.stop();
  }
  for (const check of checks) process.stdout.write(`${check.ok ? 'ok  ' : 'FAIL'} ${check.what}\n`);
  const failed = checks.filter((c) => !c.ok).length;
  process.stdout.write(`${checks.length - failed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

/** `near=a.txt,far=b.jsonl` as named text sets. */
function textSets(option: unknown): { name: string; file: string }[] | undefined {
  if (typeof option !== 'string') return undefined;
  return option.split(',').map((pair) => {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`--ood-texts: "${pair}" must be NAME=FILE`);
    return { name: pair.slice(0, at), file: resolve(pair.slice(at + 1)) };
  });
}

runMain('check-onboarded', main);
