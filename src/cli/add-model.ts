import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadConfig } from '../config.js';
import { createCliLogger } from '../log.js';
import { NAME_PATTERN } from '../model/manifest.js';
import { MODEL_RUNTIMES, RUNTIMES, runtimeForFile, type RuntimeName } from '../model/runtimes.js';
import { featuresSpec, type ClassScoreKind } from '../model/features/features-runtime.js';
import { addModel, type AddModelOptions, type AddModelResult } from '../onboarding/add-model.js';
import { addModelAsFeatures } from '../onboarding/as-features.js';
import { OodError } from '../errors.js';
import { reorderNote } from '../onboarding/label-check.js';
import { parseInputShape } from '../onboarding/input-shape-arg.js';
import { discardAllStagingSync } from '../onboarding/staging.js';
import { EfSearchArgSchema } from './ef-search-arg.js';
import { Progress } from './progress.js';

/** One flag per runtime, named as it: --onnx FILE, --tfjs FILE, --features LAYER=acts.npy,... */
const MODEL_FILE_FLAGS = MODEL_RUNTIMES.names.map((name) => (name === 'features' ? '--features LAYER=acts.npy,...' : `--${name} FILE`));
const modelFileArgs = Object.fromEntries(MODEL_RUNTIMES.names.map((name) => [name, z.string().optional()])) as Record<RuntimeName, z.ZodOptional<z.ZodString>>;

const USAGE = `usage:
  npm run ood -- add-model --name NAME --onnx model.onnx --data train_x.npy --labels train_y.npy [--classes classes.txt]
  npm run ood -- add-model --name NAME --onnx model.onnx --data table.csv --label-column COL
  npm run ood -- add-model --name NAME --onnx model.onnx --data images/ (one folder per class)
  npm run ood -- add-model --name NAME --onnx model.onnx --tokenizer tokenizer.json --data train.csv|train.jsonl
                           --text-column text --label-column LABEL [--classes classes.txt]
  npm run ood -- add-model --name NAME --onnx model.onnx --data input_ids=ids.npy,attention_mask=mask.npy --labels y.npy
  npm run ood -- add-model --name NAME --tfjs model.json --data ... (same data options)
  npm run ood -- add-model --name NAME --features LAYER=acts.npy[,LAYER=acts.npy...]
                           (--logits [NAME=]logits.npy | --probabilities [NAME=]p.npy) --labels y.npy [--classes classes.txt]
  npm run ood -- add-model --name NAME --onnx model.onnx --as-features --data ... (same data options)

  ${MODEL_FILE_FLAGS.join(' | ')}  the model: ${MODEL_RUNTIMES.names.map((name) => RUNTIMES[name].fileHint).join(' or ')}
  --features L=F,...       a model that runs elsewhere: each indexed layer's activations over the
                           training rows, one .npy file per layer, named as the model server's outputs
  --logits [NAME=]F        its class scores over the same rows, as logits (NAME: the output they
  --probabilities [NAME=]F arrive as; default logits or probabilities); test data: --test-data L=F,...,NAME=F
  --as-features            with --onnx: onboard the model as a features model, its features computed
                           here by the exported file (export-features), which is kept beside it
  --layers a,b,c           layers to index (default: chosen and explained; see \`inspect\`)
  --calibration-share X    share of the rows held out to calibrate the p-values (default 0.1,
                           raised towards 2,000 rows, at most 0.3, for small data sets)
  --seed N                 seed of the calibration split (default 1)
  --k N                    neighbours per layer for this model (default: the server's OOD_K)
  --ef-search L=N[,L=N]    HNSW efSearch for named layers, e.g. input=128 (default: OOD_HNSW_EF_SEARCH)
  --test-data F [--test-labels F]  held-out data (same format): the flag rate on them is measured
  --classes FILE           class names, one per line in the model's output order
  --ignore-columns a,b     CSV columns that are neither features nor the label
  --tokenizer FILE         a text model's Hugging Face tokenizer.json; clients then send strings
  --text-column NAME       the column (CSV) or key (JSON Lines) holding each text
  --reference-data         point at the data where they are instead of copying them
  --input-shape 1,28,28    per-instance input shape, when the model file leaves it free; for
                           several inputs NAME=DIMS each, e.g. input_ids=128,attention_mask=128
  --scale X --mean a,b,c --std a,b,c  image preprocessing for {"b64": ...} inputs and image folders
                           (pixel * scale - mean) / std; default scale 1/255, mean 0, std 1
  --version V              model version (default 1)
  --force                  replace a model and reference set of the same name`;

const numberList = (option: string) =>
  z
    .string()
    .regex(/^-?\d+(\.\d+)?(,-?\d+(\.\d+)?)*$/, `${option} must be numbers separated by commas`)
    .transform((s) => s.split(',').map(Number));

const ArgsSchema = z
  .object({
    name: z.string({ error: '--name is required' }).regex(NAME_PATTERN, `--name must match ${NAME_PATTERN}`),
    ...modelFileArgs,
    data: z.string().optional(),
    logits: z.string().optional(),
    probabilities: z.string().optional(),
    'as-features': z.boolean().default(false),
    labels: z.string().optional(),
    'label-column': z.string().optional(),
    classes: z.string().optional(),
    'test-data': z.string().optional(),
    'test-labels': z.string().optional(),
    'ignore-columns': z.string().optional(),
    tokenizer: z.string().optional(),
    'text-column': z.string().min(1).optional(),
    layers: z.string().optional(),
    'calibration-share': z.coerce.number().gt(0).lt(1).optional(),
    seed: z.coerce.number().int().min(0).max(0xffffffff).default(1),
    k: z.coerce.number().int().positive().optional(),
    'ef-search': EfSearchArgSchema.optional(),
    'reference-data': z.boolean().default(false),
    'input-shape': z.string().optional(),
    scale: z.coerce.number().positive().optional(),
    mean: numberList('--mean').optional(),
    std: numberList('--std').optional(),
    version: z.string().min(1).default('1'),
    force: z.boolean().default(false),
  })
  .refine((a) => MODEL_RUNTIMES.names.filter((name) => a[name] !== undefined).length === 1, { message: `give exactly one of ${MODEL_FILE_FLAGS.join(' or ')}` })
  .refine((a) => (a.features === undefined ? a.data !== undefined : a.data === undefined), {
    message: '--data is required, except with --features, whose files are the data',
    path: ['data'],
  })
  .refine((a) => (a.features === undefined ? a.logits === undefined && a.probabilities === undefined : (a.logits === undefined) !== (a.probabilities === undefined)), {
    message: 'with --features give its class scores, --logits FILE or --probabilities FILE (and not otherwise)',
    path: ['logits'],
  })
  .refine((a) => !a['as-features'] || a.onnx !== undefined, { message: '--as-features goes with --onnx model.onnx', path: ['as-features'] })
  .refine((a) => a.features === undefined || a.layers === undefined, {
    message: 'every layer --features gives is indexed, and every request must carry it: leave out the files of layers not to index',
    path: ['layers'],
  });

const PARSE_OPTIONS = {
  name: { type: 'string' }, data: { type: 'string' }, logits: { type: 'string' }, probabilities: { type: 'string' },
  'as-features': { type: 'boolean' },
  ...Object.fromEntries(MODEL_RUNTIMES.names.map((name) => [name, { type: 'string' as const }])),
  labels: { type: 'string' }, 'label-column': { type: 'string' }, classes: { type: 'string' },
  'test-data': { type: 'string' }, 'test-labels': { type: 'string' }, 'ignore-columns': { type: 'string' },
  tokenizer: { type: 'string' }, 'text-column': { type: 'string' },
  layers: { type: 'string' }, 'calibration-share': { type: 'string' }, seed: { type: 'string' }, k: { type: 'string' },
  'ef-search': { type: 'string' },
  'reference-data': { type: 'boolean' }, 'input-shape': { type: 'string' }, scale: { type: 'string' },
  mean: { type: 'string' }, std: { type: 'string' }, version: { type: 'string' }, force: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

type AddModelArgs = z.infer<typeof ArgsSchema>;

/** The onboarding's options from the parsed flags. */
function addModelOptions(args: AddModelArgs, argv: string[], modelFile: string, runtime: RuntimeName, features: { data: string } | undefined): AddModelOptions {
  return {
    name: args.name,
    modelFile,
    runtime,
    data: {
      data: features?.data ?? (args.data as string),
      labels: args.labels,
      labelColumn: args['label-column'],
      classes: args.classes,
      testData: args['test-data'],
      testLabels: args['test-labels'],
      ignoreColumns: args['ignore-columns']?.split(','),
      textColumn: args['text-column'],
    },
    tokenizer: args.tokenizer,
    layers: args.layers?.split(','),
    calibrationShare: args['calibration-share'],
    seed: args.seed,
    k: args.k,
    efSearch: args['ef-search'],
    copyData: !args['reference-data'],
    force: args.force,
    version: args.version,
    inputShape: args['input-shape'] ? parseInputShape(args['input-shape'], '--input-shape') : undefined,
    image: { scale: args.scale, mean: args.mean, std: args.std },
    command: `npm run ood -- add-model ${argv.join(' ')}`,
  };
}

/** What add-model prints once the model is added: where it went, what it indexes, how it did, how to serve it. */
function summary(name: string, result: AddModelResult & { exported?: string }): string {
  const reorder = reorderNote(result.labelCheck);
  return [
    `added model ${name}: ${result.modelDir} and ${result.referenceSetDir}`,
    ...(result.exported ? [`the model with its features added, to deploy where it runs: ${result.exported}`] : []),
    `indexed layers: ${result.manifest.layers.join(', ')}`,
    ...result.layerReasons.map((r) => `  ${r}`),
    `model accuracy on the reference rows: ${result.labelCheck.accuracy.toFixed(4)} (${result.labelCheck.rows} rows)`,
    ...(reorder ? [`  ${reorder}`] : []),
    ...(result.heldOut
      ? [`held-out: ${(100 * result.heldOut.flagRate).toFixed(1)}% of ${result.heldOut.rows} rows flagged, accuracy ${result.heldOut.accuracy.toFixed(4)}`]
      : []),
    '',
    'serve it:',
    `  OOD_MODEL=${name} npm start`,
    '',
  ].join('\n');
}

export async function addModelCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: PARSE_OPTIONS, strict: true });
  if (values.help) {
    process.stderr.write(`${USAGE}\n`);
    return 0;
  }
  const parsed = ArgsSchema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    process.stderr.write(`add-model: ${issue.path.length ? `--${issue.path.join('.')}: ` : ''}${issue.message}\n\n${USAGE}\n`);
    return 2;
  }
  const args = parsed.data;
  const log = createCliLogger();
  const config = loadConfig(process.env);
  const features = args.features === undefined ? undefined : featuresArgs(args.features, args.logits, args.probabilities);
  // The file's name, not the flag, says which runtime reads a model file; activation files are a features model's.
  const modelFile = features?.spec ?? (MODEL_RUNTIMES.names.map((name) => args[name]).find((file) => file !== undefined) as string);
  const runtime: RuntimeName = features ? 'features' : runtimeForFile(modelFile);
  const prepared = await RUNTIMES[runtime].prepare({ backend: config.backend });
  if (prepared) log.info(prepared, `${RUNTIMES[runtime].title} backend ready`);
  const progress = new Progress();
  // The build takes minutes: an interrupted run must not leave its staging folders behind.
  const onSignal = (signal: NodeJS.Signals) => {
    discardAllStagingSync();
    process.stderr.write(`\nadd-model: ${signal}: stopped, nothing was added\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const options = addModelOptions(args, argv, modelFile, runtime, features);
  const report = (stage: string, done: number, total: number) => progress.update(stage, done, total);
  const result = args['as-features'] ? await addModelAsFeatures(options, config, log, report) : await addModel(options, config, log, report);
  process.stdout.write(summary(args.name, result));
  return 0;
}

/**
 * --features L=F,... with --logits or --probabilities [NAME=]F: the features runtime's spec, and
 * the same files as one .npy file per input, which is how add-model reads data of several inputs.
 */
function featuresArgs(layersArg: string, logits: string | undefined, probabilities: string | undefined): { spec: string; data: string } {
  const npy = (file: string, option: string) => {
    if (!/\.npy$/i.test(file)) throw new OodError('CONFIG_INVALID', `${option}: ${file} is not a .npy file; activations and class scores come one .npy file each`);
    return file;
  };
  const layers = layersArg.split(',').map((pair) => {
    const at = pair.indexOf('=');
    if (at < 1) throw new OodError('CONFIG_INVALID', `--features: "${pair}" is not LAYER=FILE.npy`);
    return { name: pair.slice(0, at), file: npy(pair.slice(at + 1), '--features') };
  });
  const kind: ClassScoreKind = logits !== undefined ? 'logits' : 'probabilities';
  const given = (logits ?? probabilities) as string;
  // NAME=FILE names the output the scores arrive as; a path that exists, or whose "=" sits in a
  // folder's name, is a bare file and takes the flag's name.
  const at = given.indexOf('=');
  const named = at > 0 && !existsSync(given) && !/[/\\]/.test(given.slice(0, at));
  const scores = named ? { name: given.slice(0, at), file: given.slice(at + 1) } : { name: kind, file: given };
  npy(scores.file, `--${kind}`);
  const data = [...layers, scores].map((p) => `${p.name}=${p.file}`).join(',');
  return { spec: featuresSpec({ layers, scores: { kind, ...scores } }), data };
}
