import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildProgress } from '../detector/build-entry.js';
import type { Config } from '../config.js';
import { OodError } from '../errors.js';
import type { Log } from '../log.js';
import { featuresSpec, type ClassScoreKind } from '../model/features/features-runtime.js';
import { exportFeatures, type ExportedFeatures } from '../model/onnx/export-features.js';
import { FeatureComputer } from '../model/onnx/feature-computer.js';
import { RUNTIMES } from '../model/runtimes.js';
import { float32NpyBytes, npyBytes } from '../reference/sources/npy-write.js';
import { readSource } from '../reference/sources/registry.js';
import type { SourcePool } from '../reference/sources/labeled-data.js';
import { addModel, type AddModelOptions, type AddModelResult } from './add-model.js';
import { looksLikeProbabilities, SAMPLE_ROWS } from './class-scores.js';
import { planData } from './data-plan.js';
import { describeModelFile } from './describe-file.js';
import { imagePreprocessingFor } from './image-shape.js';
import { StagedFolder } from './staging.js';
import { readTokenizerFile, textModel, tokenizerShapes } from './text-model.js';

/** The exported file's name in the model folder: what to deploy on the model server. */
export const EXPORTED_FILE = 'model-with-features.onnx';

/**
 * `add-model --onnx model.onnx --as-features`: the model exported with its features
 * (export-features), run here over the user's data to write each feature and the class scores
 * as .npy files, then onboarded from those as a features model would be from files its own
 * server wrote. The rows keep their order, so the calibration split is the one an in-process
 * onboarding of the same data and seed draws, and both serve the same p-values.
 */
export async function addModelAsFeatures(options: AddModelOptions, config: Config, log: Log, progress?: BuildProgress): Promise<AddModelResult & { exported: string }> {
  const tokenizer = options.tokenizer ? await readTokenizerFile(options.tokenizer) : undefined;
  const givenShapes = options.inputShape ?? (tokenizer ? tokenizerShapes(tokenizer) : undefined);
  const described = await describeModelFile(options.modelFile, RUNTIMES.onnx, givenShapes);
  described.dispose();
  const { description } = described;
  const text = tokenizer ? textModel(tokenizer, description.inputs) : undefined;
  if (!options.copyData) {
    throw new OodError('CONFIG_INVALID', '--reference-data cannot go with --as-features: the features are computed into the reference set, so there is nothing to point at');
  }
  const bytes = await readFile(options.modelFile);
  const exported = await exportFeatures(bytes, options.modelFile, options.layers, { inputShape: givenShapes, text: text?.settings });
  // The layers are renamed as the exported file outputs them (the raw input becomes input:raw).
  const renamed = new Map(exported.layers.map((l) => [l.layer, l.output]));
  const efSearch = options.efSearch ? Object.fromEntries(Object.entries(options.efSearch).map(([layer, ef]) => [renamed.get(layer) ?? layer, ef])) : undefined;
  const plainInput = description.inputs.length === 1 && description.inputs[0].dtype === 'float32';
  const preprocessing = plainInput ? imagePreprocessingFor(description.input.shape, options.image) : undefined;
  const plan = await planData(options.data, description.classOutput.classes, preprocessing, description.inputs.map((i) => i.name));
  if (plan.labels.length !== description.classOutput.classes) {
    throw new OodError('DATA_INVALID', `the model outputs ${description.classOutput.classes} classes ("${description.classOutput.name}" of ${options.modelFile}), but the data have ${plan.labels.length} (from ${plan.labelsFrom})`);
  }
  // Staged, so an interrupted run removes the features (hundreds of MB) as it removes the rest.
  const workspace = new StagedFolder(tmpdir(), 'ood-as-features');
  await workspace.create();
  const dir = workspace.dir;
  try {
    const source = await readSource(plan.source, { manifestDir: dir, labels: plan.labels, inputShape: description.input.shape, ...(text ? { text: text.codec } : {}) });
    if (source.pool.cols !== description.input.width) {
      throw new OodError('DATA_INVALID', `${options.data.data} has ${source.pool.cols} values per row, but ${options.modelFile} takes ${description.input.width}`);
    }
    const computer = await FeatureComputer.create(exported, options.modelFile);
    let written: { spec: string; data: string; labels: string; test?: { data: string; labels: string } };
    try {
      const train = await writeFeatures(computer, exported, source.pool, join(dir, 'train'), log);
      const test = source.testPool ? await writeFeatures(computer, exported, source.testPool, join(dir, 'test'), log, train.kind) : undefined;
      written = { ...train, ...(test ? { test: { data: test.data, labels: test.labels } } : {}) };
    } finally {
      await computer.release();
    }
    const classesFile = join(dir, 'classes.txt');
    await writeFile(classesFile, `${plan.labels.join('\n')}\n`);
    const result = await withNamedFiles(dir, describeFile(exported, options, plan.labelsFrom), () => addModel(
      {
        ...options,
        runtime: 'features',
        modelFile: written.spec,
        cardModelFile: `\`${options.modelFile}\` as a features model: its features computed here by \`${EXPORTED_FILE}\` (beside this card), which is what to deploy`,
        data: { data: written.data, labels: written.labels, classes: classesFile, ...(written.test ? { testData: written.test.data, testLabels: written.test.labels } : {}) },
        layers: undefined,
        efSearch,
        tokenizer: undefined,
        inputShape: undefined,
        image: undefined,
        copyData: true,
        extraModelFiles: { ...options.extraModelFiles, [EXPORTED_FILE]: exported.bytes },
      },
      config,
      log,
      progress,
    ));
    return { ...result, exported: join(result.modelDir, EXPORTED_FILE) };
  } finally {
    await workspace.discard();
  }
}

/**
 * Every row of `pool` through the exported file, each feature and the class scores to a .npy
 * file of their own, and the labels as class indices. Class scores are logits unless the first
 * rows look like probabilities, as add-model decides for a model run in-process.
 */
async function writeFeatures(computer: FeatureComputer, exported: ExportedFeatures, pool: SourcePool, prefix: string, log: Log, kind?: ClassScoreKind) {
  const { x, labels } = pool.take();
  const values = await computer.compute(x.data as Float32Array, x.rows);
  const file = (i: number | 'scores') => `${prefix}_${i}.npy`;
  const layers = exported.layers.map((l, i) => ({ name: l.output, file: file(i) }));
  for (const [i, l] of exported.layers.entries()) await writeFile(file(i), float32NpyBytes([x.rows, ...l.shape], values.get(l.output) as Float32Array));
  const { output, classes } = exported.scores;
  const scores = values.get(output) as Float32Array;
  await writeFile(file('scores'), float32NpyBytes([x.rows, classes], scores));
  const sampleRows = Math.min(SAMPLE_ROWS, x.rows);
  const found: ClassScoreKind = kind ?? (looksLikeProbabilities({ data: scores.subarray(0, sampleRows * classes), rows: sampleRows, cols: classes }) ? 'probabilities' : 'logits');
  if (!kind) log.info({ output, kind: found, rows: x.rows }, 'features computed by the exported model');
  const labelsFile = `${prefix}_labels.npy`;
  await writeFile(labelsFile, npyBytes('<i4', [labels.length], labels));
  const scoresSpec = { kind: found, name: output, file: file('scores') };
  return {
    kind: found,
    spec: featuresSpec({ layers, scores: scoresSpec }),
    data: [...layers, scoresSpec].map((p) => `${p.name}=${p.file}`).join(','),
    labels: labelsFile,
  };
}

/** What a file of the staged folder holds, in the user's terms: the folder is gone by the time they read an error. */
function describeFile(exported: ExportedFeatures, options: AddModelOptions, labelsFrom: string): (file: string) => string | undefined {
  return (file) => {
    const m = /^(train|test)_(\d+|scores|labels)\.npy$/.exec(file);
    // The class names were written from the user's labels or --classes.
    if (!m) return file === 'classes.txt' ? labelsFrom : undefined;
    const rows = m[1] === 'train' ? options.data.data : (options.data.testData as string);
    if (m[2] === 'labels') return `the labels of ${rows}`;
    const output = m[2] === 'scores' ? exported.scores.output : exported.layers[Number(m[2])]?.output;
    return `output "${output}" of the exported model on ${rows}`;
  };
}

/** Runs `work`, and names the staged folder's files in any error it throws as `describe` says. */
async function withNamedFiles<T>(dir: string, describe: (file: string) => string | undefined, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof OodError) || !err.message.includes(dir)) throw err;
    const prefix = `${dir}/`;
    const message = err.message.replace(new RegExp(`${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([\\w.-]+)`, 'g'), (path, file: string) => describe(file) ?? path);
    throw new OodError(err.code, message, { cause: err });
  }
}
