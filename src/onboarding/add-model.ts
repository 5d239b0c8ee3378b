import { join } from 'node:path';
import { MIN_CALIBRATION_POINTS } from '../detector/calibration.js';
import type { BuildProgress } from '../detector/build-entry.js';
import { loadDetector } from '../detector/load-detector.js';
import { detectorSettings } from '../detector-settings.js';
import type { DeepKnnDetector } from '../detector/deep-knn-detector.js';
import type { Config } from '../config.js';
import { writeFileAtomic } from '../atomic-write.js';
import { OodError } from '../errors.js';
import type { Log } from '../log.js';
import { INPUT_LAYER, unindexedEfSearchLayers, type ModelManifest } from '../model/manifest.js';
import type { ModelDescription } from '../model/model-description.js';
import { parseLayer } from '../model/layer-spec.js';
import { firstInvalidValue, inputLayout, inputsField, isIntegerDtype } from '../model/model-inputs.js';
import type { ModelRuntime, RuntimeCapabilities } from '../model/model-runtime.js';
import { MODEL_RUNTIMES, RUNTIMES } from '../model/runtimes.js';
import { TOKENIZER_FILE } from '../model/text/text-settings.js';
import type { TextCodec } from '../detector/types.js';
import { readTokenizerFile, textModel, tokenizerShapes } from './text-model.js';
import { MANIFEST_FILE, ReferenceSetManifestSchema, type ReferenceSetManifest } from '../reference/manifest.js';
import { loadReferenceSet } from '../reference/load-reference-set.js';
import { readSource } from '../reference/sources/registry.js';
import { copiedSource, planData, type DataPlan } from './data-plan.js';
import { describeModelFile } from './describe-file.js';
import { imagePreprocessingFor } from './image-shape.js';
import { heldOutCheck, type HeldOutCheck } from './held-out.js';
import { modelCard, referenceSetReadme } from './model-card.js';
import { checkClassScores, checkDeclaredLogits, SAMPLE_ROWS } from './class-scores.js';
import { checkLabelOrder, spreadRows, type LabelCheck } from './label-check.js';
import { commitTogether, pathExists, StagedFolder, sweepStale } from './staging.js';
import type { AddModelOptions } from './add-model-options.js';

export type { AddModelOptions } from './add-model-options.js';

export interface AddModelResult {
  modelDir: string;
  referenceSetDir: string;
  manifest: ModelManifest;
  referenceSet: ReferenceSetManifest;
  heldOut?: HeldOutCheck;
  /** The model's accuracy against the labels of its reference training rows. */
  labelCheck: LabelCheck;
  layerReasons: string[];
}

/**
 * Onboards a model the user already has: describe it, check the layers and the data against it
 * (and its predictions against the labels), write a model folder and a reference set (staged,
 * then renamed into place), build the graphs and calibration into the cache, and measure the
 * flag rate on held-out data when there are any.
 * Anything refused leaves models/ and reference-sets/ as they were.
 */
export async function addModel(options: AddModelOptions, config: Config, log: Log, progress?: BuildProgress): Promise<AddModelResult> {
  const { name } = options;
  const { modelTarget, refsTarget } = await clearTargets(options, config);
  const runtime = RUNTIMES[options.runtime];
  if (options.tokenizer && runtime.capabilities.inputTypes === 'float32-only') {
    throw new OodError('CONFIG_INVALID', `--tokenizer goes with a model that takes token ids (${flagsOfRuntimesThat((c) => c.inputTypes === 'any')}); ${runtime.title} models take float inputs`);
  }
  const tokenizer = options.tokenizer ? await readTokenizerFile(options.tokenizer) : undefined;
  const described = await describeModelFile(options.modelFile, runtime, options.inputShape ?? (tokenizer ? tokenizerShapes(tokenizer) : undefined));
  const stagedModel = new StagedFolder(config.modelsDir, name);
  const stagedRefs = new StagedFolder(config.referenceSetsDir, name);
  let detector: DeepKnnDetector | undefined;
  try {
    const { description } = described;
    const layers = options.layers ?? description.defaults.layers;
    const layerReasons = options.layers ? ['named with --layers'] : description.defaults.reasons;
    checkLayers(layers, description, runtime, options.modelFile);
    const unindexed = unindexedEfSearchLayers({ layers, ef_search: options.efSearch });
    if (unindexed.length > 0) {
      throw new OodError('CONFIG_INVALID', `--ef-search names ${unindexed.join(', ')}; the indexed layers are ${layers.join(', ')}`);
    }
    // Only a model that takes one float tensor can take pictures.
    const plainInput = description.inputs.length === 1 && description.inputs[0].dtype === 'float32';
    const preprocessing = plainInput ? imagePreprocessingFor(description.input.shape, options.image) : undefined;
    const text = tokenizer ? textModel(tokenizer, description.inputs) : undefined;
    const plan = await checkedPlan(options, description, preprocessing, text !== undefined);
    await stagedModel.create();
    await stagedRefs.create();
    const { referenceSet, sample, labelSample, test, counts } = await stageReferenceSet(stagedRefs, plan, options, description, config.significance, text?.codec);
    log.info(counts, 'data read and split');
    // Scores the user declared are checked against the declaration: probabilities row by row as
    // the data were read, logits here.
    const activation = description.classOutput.declared
      ? await checkDeclaredLogits(described, description.classOutput, sample)
      : await checkClassScores(described, description.classOutput, sample, log);
    // Before the slow graph build: classes in another order than the model's are refused here.
    const labelCheck = await checkLabelOrder(described, description.classOutput, labelSample, plan, log);
    const manifest: ModelManifest = {
      name,
      version: options.version,
      input_shape: description.input.shape,
      ...inputsField(description.inputs),
      labels: plan.labels,
      layers,
      reference_set: name,
      output_layer: description.classOutput.name,
      runtime: options.runtime,
      output_activation: activation,
      ...(options.k ? { k: options.k } : {}),
      ...(options.efSearch ? { ef_search: options.efSearch } : {}),
      ...(preprocessing ? { preprocessing } : {}),
      ...(text ? { text: text.settings } : {}),
    };
    await described.save(stagedModel.dir, manifest, { ...(tokenizer ? { [TOKENIZER_FILE]: tokenizer.bytes } : {}), ...options.extraModelFiles });
    const settings = detectorSettings({ ...config, model: name, modelsDir: stagedModel.root, referenceSetsDir: stagedRefs.root });
    detector = await loadDetector(settings, log, progress);
    const heldOut = test.x.rows > 0 ? await heldOutCheck(detector, test) : undefined;
    await writeFileAtomic(
      join(stagedModel.dir, 'MODEL_CARD.md'),
      modelCard({ manifest, options, plan, description, layerReasons, referenceSet, counts, labelCheck, heldOut, significance: detector.info.significance, k: detector.info.k }),
    );
    await writeFileAtomic(join(stagedRefs.dir, 'README.md'), referenceSetReadme(referenceSet, options, plan));
    await commitTogether([stagedRefs, stagedModel], options.force);
    return { modelDir: modelTarget, referenceSetDir: refsTarget, manifest, referenceSet, heldOut, labelCheck, layerReasons };
  } finally {
    detector?.dispose();
    described.dispose();
    await stagedModel.discard();
    await stagedRefs.discard();
  }
}

/** Where the model folder and the reference set go: refused when taken (unless --force), and swept of stale staging. */
async function clearTargets(options: AddModelOptions, config: Config): Promise<{ modelTarget: string; refsTarget: string }> {
  const modelTarget = join(config.modelsDir, options.name);
  const refsTarget = join(config.referenceSetsDir, options.name);
  for (const target of [modelTarget, refsTarget]) {
    if (!options.force && (await pathExists(target))) {
      throw new OodError('CONFIG_INVALID', `${target} already exists: choose another --name, or pass --force to replace it`);
    }
  }
  await sweepStale(config.modelsDir, options.name);
  await sweepStale(config.referenceSetsDir, options.name);
  return { modelTarget, refsTarget };
}

/** How the data will be read, refused when it cannot feed this model: texts without a tokenizer, another number of classes. */
async function checkedPlan(
  options: AddModelOptions,
  description: ModelDescription,
  preprocessing: ReturnType<typeof imagePreprocessingFor>,
  takesText: boolean,
): Promise<DataPlan> {
  const plan = await planData(options.data, description.classOutput.classes, preprocessing, description.inputs.map((i) => i.name));
  if (plan.source.kind === 'text' && !takesText) {
    throw new OodError('CONFIG_INVALID', `${options.data.data} holds texts: give the model's tokenizer with --tokenizer tokenizer.json`);
  }
  if (plan.labels.length !== description.classOutput.classes) {
    throw new OodError(
      'DATA_INVALID',
      `the model outputs ${description.classOutput.classes} classes ("${description.classOutput.name}" of ${options.modelFile}), ` +
        `but the data have ${plan.labels.length} (${plan.labels.slice(0, 12).join(', ')}${plan.labels.length > 12 ? ', ...' : ''}; from ${plan.labelsFrom})`,
    );
  }
  return plan;
}

/**
 * Writes the reference set into its staging folder, with its manifest and the checksum of the
 * data as stored (copies are renamed, so it is taken on them), and returns what the checks need:
 * only samples and the test part, since the detector reads the whole set once more.
 */
async function stageReferenceSet(
  staged: StagedFolder,
  plan: DataPlan,
  options: AddModelOptions,
  description: ModelDescription,
  significance: number,
  codec: TextCodec | undefined,
) {
  const draftSet = await writeReferenceSet(staged, plan, options, description, significance, codec);
  const { sample, labelSample, test, counts, dataSha256, emptyClasses } = await splitSummary(staged.root, options.name, codec);
  if (emptyClasses.length > 0) {
    throw new OodError(
      'DATA_INVALID',
      `no rows of class ${emptyClasses.map((c) => `"${plan.labels[c]}"`).join(', ')} are left to index (from ${plan.labelsFrom}): ` +
        'every class the model outputs needs training rows; bring data of every class, or a model of fewer classes',
    );
  }
  const referenceSet: ReferenceSetManifest = { ...draftSet, data_sha256: dataSha256 };
  await writeFileAtomic(join(staged.dir, MANIFEST_FILE), `${JSON.stringify(referenceSet, null, 2)}\n`);
  return { referenceSet, sample, labelSample, test, counts };
}

/** The add-model flags of the runtimes that can do something, for errors: "--onnx". */
function flagsOfRuntimesThat(can: (capabilities: RuntimeCapabilities) => boolean): string {
  return MODEL_RUNTIMES.names.filter((name) => can(RUNTIMES[name].capabilities)).map((name) => `--${name}`).join(' or ');
}

/** Any value of the graph may be named; the error lists the candidates `inspect` shows. */
function checkLayers(layers: string[], description: ModelDescription, runtime: ModelRuntime, file: string): void {
  if (layers.length === 0) throw new OodError('CONFIG_INVALID', `${file}: no layer to index; name some with --layers`);
  const known = description.candidates.map((c) => c.name);
  const valid = new Set([INPUT_LAYER, ...description.values]);
  for (const layer of layers) {
    // A runtime that cannot pool takes names as they are: "x:mean" as a model server pooled it.
    if (!runtime.capabilities.pooledLayers && description.values.includes(layer)) continue;
    const { value, pooling } = parseLayer(layer);
    if (pooling && !runtime.capabilities.pooledLayers) {
      throw new OodError('CONFIG_INVALID', `--layers names "${layer}": pooled layers need a model that can pool them (${flagsOfRuntimesThat((c) => c.pooledLayers)}); ${runtime.title} models cannot`);
    }
    if (!valid.has(value)) {
      const shown = known.slice(0, 20).join(', ');
      throw new OodError(
        'CONFIG_INVALID',
        `--layers names "${layer}", which ${file} does not have; candidates: ${INPUT_LAYER}, ${shown}${known.length > 20 ? ', ...' : ''} ` +
          `(\`npm run ood -- inspect ${file}\` lists them with their shapes)`,
      );
    }
  }
  if (new Set(layers).size !== layers.length) throw new OodError('CONFIG_INVALID', '--layers names a layer twice');
}

/** The default share, and how far it is raised for small data sets, and the rows it aims at. */
export const DEFAULT_CALIBRATION = { share: 0.1, maxShare: 0.3, rows: 2000 } as const;

/**
 * Calibration rows out of `rows`. By default a tenth, raised towards 2,000 rows (up to 30% of the
 * data) for small sets: the flag rate a calibration gives varies around the significance by
 * about sqrt(significance / (rows / 2)), two to three points with a hundred rows, half a point
 * with 2,000, while the index loses little from a few more rows held out.
 */
export function calibrationRows(rows: number, share?: number): number {
  if (share !== undefined) return Math.round(share * rows);
  const { share: base, maxShare, rows: aim } = DEFAULT_CALIBRATION;
  return Math.round(Math.max(base * rows, Math.min(aim, maxShare * rows)));
}

/**
 * Copies the data (unless referenced), then writes the manifest. The calibration count is the
 * share of the rows, so the source is read once to count them.
 */
async function writeReferenceSet(
  staged: StagedFolder,
  plan: DataPlan,
  options: AddModelOptions,
  description: ModelDescription,
  significance: number,
  text: TextCodec | undefined,
): Promise<ReferenceSetManifest> {
  const draft = ReferenceSetManifestSchema.parse({
    name: options.name,
    description: `The data of model ${options.name}, added by add-model from ${plan.copies.map((c) => c.from).join(', ')}`,
    labels: plan.labels,
    input_shape: description.input.shape,
    source: plan.source,
    split: { method: 'seeded-permutation', seed: options.seed, calibration: 1, train: 'rest', test: 0 },
    data: options.copyData ? 'copied' : 'referenced',
  });
  // Read where the user's files are, so that every complaint names their file, not a copy.
  const source = await readSource(plan.source, { manifestDir: staged.dir, labels: plan.labels, inputShape: description.input.shape, ...(text ? { text } : {}) });
  const takes = description.inputs.length === 1 ? `[${description.input.shape.join(', ')}]` : description.inputs.map((i) => `${i.name} [${i.shape.join(', ')}]`).join(' + ');
  // With one file per input, a bad value is reported in the file of its input.
  const perInput = (files: unknown) => (Array.isArray(files) ? (files as { input: string; file: string }[]) : []);
  const given = plan.source as { data?: unknown; test_data?: unknown };
  for (const [pool, file, files] of [[source.pool, options.data.data, perInput(given.data)], [source.testPool, options.data.testData, perInput(given.test_data)]] as const) {
    if (!pool) continue;
    if (pool.cols !== description.input.width) {
      throw new OodError(
        'DATA_INVALID',
        `${file} has ${pool.cols} values per row, but ${options.modelFile} takes ${description.input.width} (${takes})` +
          (plan.source.kind === 'csv' ? '; leave columns that are not features out with --ignore-columns' : ''),
      );
    }
    // Integer inputs travel as float32 (model-inputs.ts): a value that is not whole, or too
    // large to stay exact, would reach the model as another value. Class scores declared as
    // probabilities must be probabilities.
    if (description.inputs.some((i) => isIntegerDtype(i.dtype) || i.probabilities)) {
      const { x } = pool.take();
      const bad = firstInvalidValue(x.data as Float32Array, x.rows, inputLayout(description.inputs));
      if (bad) throw new OodError('DATA_INVALID', `${files.find((f) => f.input === bad.input)?.file ?? file}: ${bad.message}`);
    }
  }
  const calibration = calibrationRows(source.pool.size, options.calibrationShare);
  // Half the calibration rows give the p-values, whose smallest is 1 / (half + 1).
  const needed = Math.max(MIN_CALIBRATION_POINTS, 2 * Math.ceil(1 / significance - 1));
  if (calibration < needed || calibration >= source.pool.size) {
    throw new OodError(
      'CONFIG_INVALID',
      `--calibration-share ${options.calibrationShare ?? 'by default'} of the ${source.pool.size} rows of ${plan.copies[0].from} gives ${calibration} calibration rows ` +
        `and ${source.pool.size - calibration} to index; calibration needs at least ${needed} (significance ${significance}): raise the share or bring more data`,
    );
  }
  if (options.copyData) for (const step of plan.copies) await staged.copyIn(step.from, step.to);
  const manifest: ReferenceSetManifest = {
    ...draft,
    source: options.copyData ? copiedSource(plan) : plan.source,
    split: { ...draft.split, calibration, test: source.testPool ? 'all' : 0 },
  };
  await writeFileAtomic(join(staged.dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/**
 * The staged set as the detector will read it (which checks the manifest once more), reduced to
 * what add-model still needs, so two full copies of the data are never held at once.
 */
async function splitSummary(root: string, name: string, text: TextCodec | undefined) {
  const refset = await loadReferenceSet(root, name, { text });
  const { x } = refset.train;
  const rows = Math.min(SAMPLE_ROWS, x.rows);
  return {
    sample: { data: x.data.slice(0, rows * x.cols), rows, cols: x.cols },
    labelSample: spreadRows(refset.train),
    emptyClasses: absentClasses(refset.train.labels, refset.manifest.labels.length),
    test: refset.test,
    counts: { train: refset.train.x.rows, calibration: refset.calibration.x.rows, test: refset.test.x.rows },
    dataSha256: refset.dataSha256,
  };
}

/** The classes with no row among `labels`: the density of such a class cannot be fitted. */
function absentClasses(labels: Int32Array, classes: number): number[] {
  const seen = new Uint8Array(classes);
  for (const label of labels) seen[label] = 1;
  return [...seen.keys()].filter((c) => seen[c] === 0);
}
