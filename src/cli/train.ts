import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { LayerEntanglement } from '../analysis/entanglement.js';
import { modelLayerEntanglement } from '../analysis/layer-entanglement.js';
import { seededSample } from '../analysis/sample.js';
import { writeFileAtomic } from '../atomic-write.js';
import { createCliLogger, type Log } from '../log.js';
import { activeBackend, initBackend, parseBackend } from '../model/backend.js';
import { INPUT_LAYER, NAME_PATTERN, unindexedEfSearchLayers, type ModelManifest } from '../model/manifest.js';
import { EfSearchArgSchema } from './ef-search-arg.js';
import { hiddenLayerName, PROBS_LAYER } from '../model/mlp.js';
import { modelDir } from '../model/model-store.js';
import { saveStoredModel } from '../model/tfjs/tfjs-model-file.js';
import { accuracy, TrainOptionsSchema, type EpochReport } from '../model/train.js';
import { trainClassifier } from '../model/train.js';
import { loadReferenceSet } from '../reference/load-reference-set.js';
import { entanglementCurvesSvg } from '../report/entanglement-chart.js';
import { Progress } from './progress.js';

const USAGE = `usage: npm run ood -- train --data REFSET --out NAME [options]
  --data NAME            reference set under reference-sets/ (default mnist)
  --out NAME             model folder under models/ (default: the data name)
  --hidden 256,128,64    hidden layer widths
  --epochs N --batch-size N --lr X --seed N
  --snnl-factor X        SNNL weight on every hidden layer; negative maximises entanglement (0: off)
  --snnl-temperature T   initial temperature T0 (default 100)
  --fixed-temperature    keep T0 instead of stepping an inverse temperature each batch
  --distance euclidean|cosine
  --no-index-input       do not index the raw input as a layer (it is indexed by default)
  --ef-search L=N[,L=N]  efSearch for named indexed layers, e.g. input=128 (OOD_HNSW_EF_SEARCH for the rest)
  --version V            model version string (default 1)
  --entanglement-sample N  after each epoch, SNNL at the optimal temperature per hidden layer on a
                         seeded sample of N training points, into history.csv and entanglement.svg
                         (default 1000; 0: off; the cost grows with N^2)
  --backend wasm|cpu|tensorflow`;

const ArgsSchema = z.object({
  data: z.string().regex(NAME_PATTERN).default('mnist'),
  out: z.string().regex(NAME_PATTERN).optional(),
  hidden: z.string().regex(/^\d+(,\d+)*$/).default('256,128,64'),
  epochs: z.coerce.number().int().positive().optional(),
  'batch-size': z.coerce.number().int().positive().optional(),
  lr: z.coerce.number().positive().optional(),
  seed: z.coerce.number().int().optional(),
  'snnl-factor': z.coerce.number().optional(),
  'snnl-temperature': z.coerce.number().positive().optional(),
  'fixed-temperature': z.boolean().optional(),
  distance: z.enum(['euclidean', 'cosine']).optional(),
  'no-index-input': z.boolean().optional(),
  'ef-search': EfSearchArgSchema.optional(),
  version: z.string().default('1'),
  'entanglement-sample': z.coerce
    .number()
    .int()
    .min(0)
    .refine((n) => n !== 1, 'must be 0 (off) or at least 2')
    .default(1000),
  backend: z.string().optional(),
  'models-dir': z.string().default('models'),
  'reference-sets-dir': z.string().default('reference-sets'),
});

const PARSE_OPTIONS = {
  data: { type: 'string' }, out: { type: 'string' }, hidden: { type: 'string' }, epochs: { type: 'string' },
  'batch-size': { type: 'string' }, lr: { type: 'string' }, seed: { type: 'string' },
  'snnl-factor': { type: 'string' }, 'snnl-temperature': { type: 'string' },
  'fixed-temperature': { type: 'boolean' }, distance: { type: 'string' }, 'no-index-input': { type: 'boolean' },
  'ef-search': { type: 'string' }, version: { type: 'string' }, 'entanglement-sample': { type: 'string' }, backend: { type: 'string' }, 'models-dir': { type: 'string' },
  'reference-sets-dir': { type: 'string' }, help: { type: 'boolean' },
} as const;

type TrainArgs = z.infer<typeof ArgsSchema>;
type ReferenceSet = Awaited<ReturnType<typeof loadReferenceSet>>;
type TrainOptions = ReturnType<typeof TrainOptionsSchema.parse>;

function trainOptions(args: TrainArgs): TrainOptions {
  return TrainOptionsSchema.parse({
    hidden: args.hidden.split(',').map(Number),
    epochs: args.epochs,
    batchSize: args['batch-size'],
    learningRate: args.lr,
    seed: args.seed,
    snnlFactor: args['snnl-factor'],
    snnlTemperature: args['snnl-temperature'],
    snnlLearnTemperature: args['fixed-temperature'] ? false : undefined,
    snnlDistance: args.distance,
  });
}

/** The indexed layers: the raw input (unless --no-index-input) and every hidden layer; --ef-search may name only these. */
function indexedLayers(args: TrainArgs, hiddenNames: string[]): string[] {
  const indexed = args['no-index-input'] ? hiddenNames : [INPUT_LAYER, ...hiddenNames];
  // Refused before training, not when the server later loads the model.
  const unindexed = unindexedEfSearchLayers({ layers: indexed, ef_search: args['ef-search'] });
  if (unindexed.length > 0) throw new Error(`--ef-search names ${unindexed.join(', ')}; the indexed layers are ${indexed.join(', ')}`);
  return indexed;
}

interface Trained {
  model: ReturnType<typeof trainClassifier>;
  history: EpochReport[];
  /** Per epoch, each hidden layer's SNNL at its optimal temperature on the probe (none without one). */
  entanglement: LayerEntanglement[][];
  /** Training time, without the entanglement measurements. */
  seconds: number;
  entanglementSeconds: number;
}

/** Trains, measuring each hidden layer's entanglement on the probe after every epoch, and logs each epoch. */
function trainMeasured(refset: ReferenceSet, options: TrainOptions, hiddenNames: string[], probe: ReturnType<typeof seededSample> | null, log: Log): Trained {
  const progress = new Progress();
  const history: EpochReport[] = [];
  const entanglement: LayerEntanglement[][] = [];
  let entanglementSeconds = 0;
  const started = performance.now();
  const model = trainClassifier(refset.train, refset.test, refset.manifest.labels.length, options, {
    onBatch: (epoch, batch, batches) => progress.update(`epoch ${epoch}/${options.epochs}`, batch, batches),
    onEpoch: (report, epochModel) => {
      history.push(report);
      const measureStarted = performance.now();
      const measured = probe ? modelLayerEntanglement(epochModel, hiddenNames, probe, { distance: options.snnlDistance }) : null;
      const measureSeconds = (performance.now() - measureStarted) / 1000;
      if (measured) entanglement.push(measured);
      entanglementSeconds += measureSeconds;
      log.info(
        {
          epoch: report.epoch, loss: +report.loss.toFixed(4), crossEntropy: +report.crossEntropy.toFixed(4),
          snnl: report.snnl.map((s) => +s.toFixed(4)), temperatures: report.temperatures.map((t) => +t.toPrecision(4)),
          testAccuracy: +report.testAccuracy.toFixed(4), seconds: +report.seconds.toFixed(1),
          ...(measured && {
            snnlOpt: measured.map((l) => +l.snnl.toFixed(4)),
            temperatureOpt: measured.map((l) => +l.temperature.toPrecision(4)),
            entanglementSeconds: +measureSeconds.toFixed(1),
          }),
        },
        'epoch done',
      );
    },
  });
  // The measurement is analysis, not training: the card reports the two times apart.
  const seconds = (performance.now() - started) / 1000 - entanglementSeconds;
  return { model, history, entanglement, seconds, entanglementSeconds };
}

export async function trainCommand(argv: string[]): Promise<number> {
  const log = createCliLogger();
  const { values } = parseArgs({ args: argv, options: PARSE_OPTIONS, strict: true });
  if (values.help) {
    process.stderr.write(`${USAGE}\n`);
    return 0;
  }
  const args = ArgsSchema.parse(values);
  const options = trainOptions(args);
  const name = args.out ?? args.data;
  const backend = await initBackend(args.backend ? parseBackend(args.backend) : undefined);
  log.info({ backend: backend.backend, skipped: backend.skipped }, 'tfjs backend ready');

  const refset = await loadReferenceSet(args['reference-sets-dir'], args.data);
  log.info(
    { data: args.data, train: refset.train.x.rows, calibration: refset.calibration.x.rows, test: refset.test.x.rows },
    'reference set loaded',
  );
  const hiddenNames = options.hidden.map((_, i) => hiddenLayerName(i));
  const indexed = indexedLayers(args, hiddenNames);
  // A fixed sample, so that the curve over epochs follows the representation, not the sample.
  const probe = args['entanglement-sample'] > 0 ? seededSample(refset.train, args['entanglement-sample'], options.seed) : null;
  const { model, history, entanglement, seconds, entanglementSeconds } = trainMeasured(refset, options, hiddenNames, probe, log);
  const testAccuracy = accuracy(model, refset.test);
  const manifest: ModelManifest = {
    name,
    version: args.version,
    input_shape: refset.manifest.input_shape,
    labels: refset.manifest.labels,
    layers: indexed,
    reference_set: args.data,
    output_layer: PROBS_LAYER,
    ...(args['ef-search'] ? { ef_search: args['ef-search'] } : {}),
  };
  const dir = modelDir(args['models-dir'], name);
  await saveStoredModel(dir, model, manifest);
  const command = `npm run ood -- train ${argv.join(' ')}`.trim();
  await writeFileAtomic(
    join(dir, 'MODEL_CARD.md'),
    modelCard({
      manifest, options, refset, testAccuracy, seconds, command, history,
      entanglement: { sample: probe?.x.rows ?? 0, seconds: entanglementSeconds },
    }),
  );
  await writeFile(join(dir, 'history.csv'), historyCsv(history, hiddenNames, entanglement));
  if (probe) {
    const svg = entanglementCurvesSvg(
      history.map((h, e) => ({ epoch: h.epoch, layers: entanglement[e] })),
      `${name}: SNNL at the optimal temperature, ${probe.x.rows} training points`,
    );
    await writeFileAtomic(join(dir, 'entanglement.svg'), svg);
  }
  log.info({ dir, testAccuracy: +testAccuracy.toFixed(4), seconds: +seconds.toFixed(1) }, 'model saved');
  return 0;
}

/**
 * snnl_<layer> and temperature_<layer> are the training batches' mean SNNL and the training
 * temperature; snnl_opt_<layer> and temperature_opt_<layer> are the paper's reading, SNNL at
 * the optimal temperature on the fixed sample (absent when --entanglement-sample is 0).
 */
function historyCsv(history: EpochReport[], layers: string[], entanglement: LayerEntanglement[][]): string {
  const measured = entanglement.length > 0;
  const header = [
    'epoch', 'loss', 'cross_entropy', 'test_accuracy',
    ...layers.map((l) => `snnl_${l}`), ...layers.map((l) => `temperature_${l}`),
    ...(measured ? [...layers.map((l) => `snnl_opt_${l}`), ...layers.map((l) => `temperature_opt_${l}`)] : []),
  ];
  const rows = history.map((h, e) =>
    [
      h.epoch, h.loss, h.crossEntropy, h.testAccuracy, ...layers.map((_, i) => h.snnl[i] ?? ''), ...h.temperatures,
      ...(measured ? [...entanglement[e].map((l) => l.snnl), ...entanglement[e].map((l) => l.temperature)] : []),
    ].join(','),
  );
  return `${header.join(',')}\n${rows.join('\n')}\n`;
}

function modelCard(p: {
  manifest: ModelManifest;
  options: z.infer<typeof TrainOptionsSchema>;
  refset: Awaited<ReturnType<typeof loadReferenceSet>>;
  testAccuracy: number;
  seconds: number;
  command: string;
  history: EpochReport[];
  entanglement: { sample: number; seconds: number };
}): string {
  const { manifest, options, refset } = p;
  return `# Model card: ${manifest.name} (version ${manifest.version})

A ReLU MLP classifier (${refset.manifest.input_shape.join('x')} -> ${options.hidden.join(' -> ')} -> ${manifest.labels.length}) trained by this project's own training command.

| field | value |
| --- | --- |
| data | reference set \`${manifest.reference_set}\` (${refset.manifest.description}) |
| split | train ${refset.train.x.rows}, calibration ${refset.calibration.x.rows}, test ${refset.test.x.rows} (seeded, see reference-sets/${manifest.reference_set}/manifest.json) |
| trained on | the train part only; calibration and test parts are held out |
| seed | ${options.seed} |
| epochs | ${options.epochs}, batch ${options.batchSize}, Adam lr ${options.learningRate} |
| SNNL term | ${options.snnlFactor === 0 ? 'off (cross-entropy only)' : `factor ${options.snnlFactor} on every hidden layer, T0 ${options.snnlTemperature}, ${options.snnlLearnTemperature ? 'inverse temperature stepped each batch' : 'fixed temperature'}, ${options.snnlDistance} distance`} |
| test accuracy | ${p.testAccuracy.toFixed(4)} on the ${refset.test.x.rows} test images |
| indexed layers | ${manifest.layers.join(', ')} |
| training time | ${p.seconds.toFixed(1)} s on the ${activeBackend()} backend${
    p.entanglement.sample > 0 ? `, plus ${p.entanglement.seconds.toFixed(1)} s measuring entanglement after each epoch` : ''
  } |
| trained | ${new Date().toISOString().slice(0, 10)} |

## What limits it

A fully connected network on flat pixels, trained on one CPU core: convolutions would do
better on images, but tfjs's wasm backend (the one that installs offline) has no Conv2D
gradients and the pure-JS cpu backend is about 100x slower for them. Accuracy is also bounded
by the epochs that fit in minutes of training (the last epochs' test accuracy in
\`history.csv\` shows whether more would help), and there is no data augmentation.

## Regenerate

\`\`\`
${p.command}
\`\`\`

Per-epoch loss, test accuracy and SNNL are in \`history.csv\` beside this card.${
    p.entanglement.sample > 0
      ? ` Its \`snnl_opt_*\` columns, drawn in \`entanglement.svg\`, are each hidden layer's SNNL at the optimal temperature on a fixed seeded sample of ${p.entanglement.sample} training points.`
      : ''
  } The weights are
not bit-for-bit reproducible across tfjs backends, but the accuracy is, to within a fraction
of a percent.
`;
}
