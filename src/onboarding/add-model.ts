import { join } from 'node:path';
import { MIN_CALIBRATION_POINTS } from '../detector/calibration.js';
import { detectorSettings, loadDetector, type BuildProgress } from '../detector/load-detector.js';
import type { DeepKnnDetector } from '../detector/deep-knn-detector.js';
import type { Config } from '../config.js';
import { writeFileAtomic } from '../atomic-write.js';
import { OodError } from '../errors.js';
import type { Log } from '../log.js';
import { INPUT_LAYER, type ModelManifest } from '../model/manifest.js';
import { saveStoredModel, writeModelFolder } from '../model/model-store.js';
import { ONNX_FILE } from '../model/onnx/onnx-file.js';
import { MANIFEST_FILE, ReferenceSetManifestSchema, type ReferenceSetManifest } from '../reference/manifest.js';
import { loadReferenceSet, loadSource } from '../reference/load-reference-set.js';
import { copiedSource, planData, type DataOptions, type DataPlan } from './data-plan.js';
import { describeModelFile, type ModelFileKind } from './describe-file.js';
import { imagePreprocessingFor } from './image-shape.js';
import { heldOutCheck, type HeldOutCheck } from './held-out.js';
import { modelCard, referenceSetReadme } from './model-card.js';
import { checkClassScores } from './class-scores.js';
import { pathExists, StagedFolder } from './staging.js';

export interface AddModelOptions {
  name: string;
  modelFile: string;
  kind: ModelFileKind;
  data: DataOptions;
  layers?: string[];
  calibrationShare: number;
  seed: number;
  k?: number;
  copyData: boolean;
  force: boolean;
  version: string;
  inputShape?: number[];
  image?: { scale?: number; mean?: number[]; std?: number[] };
  /** The command line, for the model card's "regenerate" section. */
  command: string;
}

export interface AddModelResult {
  modelDir: string;
  referenceSetDir: string;
  manifest: ModelManifest;
  referenceSet: ReferenceSetManifest;
  heldOut?: HeldOutCheck;
  layerReasons: string[];
}

/**
 * Onboards a model the user already has: describe it, check the layers and the data against it,
 * write a model folder and a reference set (staged, then renamed into place), build the graphs
 * and calibration into the cache, and measure the flag rate on held-out data when there are any.
 * Anything refused leaves models/ and reference-sets/ as they were.
 */
export async function addModel(options: AddModelOptions, config: Config, log: Log, progress?: BuildProgress): Promise<AddModelResult> {
  const { name } = options;
  const modelTarget = join(config.modelsDir, name);
  const refsTarget = join(config.referenceSetsDir, name);
  for (const target of [modelTarget, refsTarget]) {
    if (!options.force && (await pathExists(target))) {
      throw new OodError('CONFIG_INVALID', `${target} already exists: choose another --name, or pass --force to replace it`);
    }
  }
  const described = await describeModelFile(options.modelFile, options.kind, options.inputShape);
  const stagedModel = new StagedFolder(config.modelsDir, name);
  const stagedRefs = new StagedFolder(config.referenceSetsDir, name);
  let detector: DeepKnnDetector | undefined;
  try {
    const { description } = described;
    const layers = options.layers ?? description.defaults.layers;
    const layerReasons = options.layers ? ['named with --layers'] : description.defaults.reasons;
    checkLayers(layers, description.candidates.map((c) => c.name), options.modelFile);
    const preprocessing = imagePreprocessingFor(description.input.shape, options.image);
    const plan = await planData(options.data, description.classOutput.classes, preprocessing);
    if (plan.labels.length !== description.classOutput.classes) {
      throw new OodError(
        'DATA_INVALID',
        `the model outputs ${description.classOutput.classes} classes ("${description.classOutput.name}" of ${options.modelFile}), ` +
          `but the data have ${plan.labels.length} (${plan.labels.slice(0, 12).join(', ')}${plan.labels.length > 12 ? ', ...' : ''}; from ${plan.labelsFrom})`,
      );
    }
    await stagedModel.create();
    await stagedRefs.create();
    const referenceSet = await writeReferenceSet(stagedRefs, plan, options, description.input.shape, config.significance);
    // Reading the whole set now checks every row (NaN, widths, labels) with the file named.
    const refset = await loadReferenceSet(stagedRefs.root, name);
    log.info({ train: refset.train.x.rows, calibration: refset.calibration.x.rows, test: refset.test.x.rows }, 'data read and split');
    const activation = await checkClassScores(described, description.classOutput, refset.train.x, log);
    const manifest: ModelManifest = {
      name,
      version: options.version,
      input_shape: description.input.shape,
      labels: plan.labels,
      layers,
      reference_set: name,
      output_layer: description.classOutput.name,
      runtime: options.kind,
      output_activation: activation,
      ...(options.k ? { k: options.k } : {}),
      ...(preprocessing ? { preprocessing } : {}),
    };
    if (options.kind === 'onnx') {
      await writeModelFolder(stagedModel.dir, { [ONNX_FILE]: described.onnxBytes as Uint8Array }, manifest);
    } else {
      await saveStoredModel(stagedModel.dir, described.tfjsModel as NonNullable<typeof described.tfjsModel>, manifest);
    }
    const settings = detectorSettings({ ...config, model: name, modelsDir: stagedModel.root, referenceSetsDir: stagedRefs.root });
    detector = await loadDetector(settings, log, progress);
    const heldOut = refset.test.x.rows > 0 ? await heldOutCheck(detector, refset.test) : undefined;
    await writeFileAtomic(
      join(stagedModel.dir, 'MODEL_CARD.md'),
      modelCard({ manifest, options, plan, description, layerReasons, refset, heldOut, significance: detector.info.significance, k: detector.info.k }),
    );
    await writeFileAtomic(join(stagedRefs.dir, 'README.md'), referenceSetReadme(referenceSet, options, plan));
    await stagedRefs.commit(options.force);
    await stagedModel.commit(options.force);
    return { modelDir: modelTarget, referenceSetDir: refsTarget, manifest, referenceSet, heldOut, layerReasons };
  } finally {
    detector?.dispose();
    described.tfjsModel?.dispose();
    await stagedModel.discard();
    await stagedRefs.discard();
  }
}

function checkLayers(layers: string[], known: string[], file: string): void {
  if (layers.length === 0) throw new OodError('CONFIG_INVALID', `${file}: no layer to index; name some with --layers`);
  const valid = new Set([INPUT_LAYER, ...known]);
  for (const layer of layers) {
    if (!valid.has(layer)) {
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

/**
 * Copies the data (unless referenced), then writes the manifest. The calibration count is the
 * share of the rows, so the source is read once to count them.
 */
async function writeReferenceSet(
  staged: StagedFolder,
  plan: DataPlan,
  options: AddModelOptions,
  inputShape: number[],
  significance: number,
): Promise<ReferenceSetManifest> {
  const draft = ReferenceSetManifestSchema.parse({
    name: options.name,
    description: `The data of model ${options.name}, added by add-model from ${plan.copies.map((c) => c.from).join(', ')}`,
    labels: plan.labels,
    input_shape: inputShape,
    source: plan.source,
    split: { method: 'seeded-permutation', seed: options.seed, calibration: 1, train: 'rest', test: 0 },
    data: options.copyData ? 'copied' : 'referenced',
  });
  // Read where the user's files are, so that every complaint names their file, not a copy.
  const source = await loadSource(draft, staged.dir);
  const calibration = Math.round(options.calibrationShare * source.pool.size);
  // Half the calibration rows give the p-values, whose smallest is 1 / (half + 1).
  const needed = Math.max(MIN_CALIBRATION_POINTS, 2 * Math.ceil(1 / significance - 1));
  if (calibration < needed || calibration >= source.pool.size) {
    throw new OodError(
      'CONFIG_INVALID',
      `--calibration-share ${options.calibrationShare} of the ${source.pool.size} rows of ${plan.copies[0].from} gives ${calibration} calibration rows ` +
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
