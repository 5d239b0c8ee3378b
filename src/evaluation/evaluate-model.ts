import { craft, openAttackTarget, type AttackTarget } from '../attack/craft.js';
import { attackName, AttackSpecSchema, type AttackSpecInput } from '../attack/gradient-attack.js';
import { fitKnnDistance, knnDistanceOutlierScores } from '../baselines/knn-distance.js';
import { energyOutlierScores } from '../baselines/energy.js';
import { fitMahalanobis, mahalanobisOutlierScores } from '../math/mahalanobis.js';
import { mspOutlierScores } from '../baselines/msp.js';
import type { DeepKnnDetector } from '../detector/deep-knn-detector.js';
import { loadDetector, type DetectorSettings } from '../detector/load-detector.js';
import { predictMatrix } from '../detector/predict-matrix.js';
import { OodError } from '../errors.js';
import type { Log } from '../log.js';
import { selectRows, type Matrix } from '../math/matrix.js';
import { evaluateScores, rocCurve, type OodMetrics } from '../math/ood-metrics.js';
import { INPUT_LAYER, type ModelManifest } from '../model/manifest.js';
import { LOGITS_LAYER, PROBS_LAYER } from '../model/mlp.js';
import { loadModel, readModelManifest, type LoadedModel } from '../model/model-store.js';
import { runtimeNameOf, runtimeOf } from '../model/runtimes.js';
import { loadReferenceSet } from '../reference/load-reference-set.js';
import { loadOodSets, type TextSetFile } from '../reference/ood-sets.js';
import { isIntegerDtype } from '../model/model-inputs.js';

/** The scores compared side by side; each is oriented so that higher means more outlying. */
export const SCORES = ['msp', 'energy', 'mahalanobis', 'knn_distance', 'dknn_credibility', 'service'] as const;
export type ScoreName = (typeof SCORES)[number];

export const SCORE_TITLES: Record<ScoreName, string> = {
  msp: 'max softmax',
  energy: 'energy',
  mahalanobis: 'Mahalanobis',
  knn_distance: 'kNN distance (k=50)',
  dknn_credibility: 'DkNN credibility',
  service: 'service outlier_score',
};

export interface SetEvaluation {
  name: string;
  size: number;
  flagged: number;
  /**
   * Per indexed layer, the share flagged by that layer's nearest-neighbour distance alone, at a
   * threshold that flags the significance's share of in-distribution test inputs.
   */
  layerFlagged?: Record<string, number>;
  /** For an adversarial set: the attack, and the share of attacked inputs whose class it changed. The set holds those inputs. */
  attack?: { method: string; eps: number; norm: string; steps: number; attacked: number; successRate: number };
  metrics: Record<ScoreName, OodMetrics>;
  roc: Record<ScoreName, [number, number][]>;
}

export interface ModelEvaluation {
  model: string;
  referenceSet: string;
  accuracy: number;
  testSize: number;
  /** Share of in-distribution test inputs the service flags: the conformal bound's check. */
  inDistributionFlagged: number;
  sets: SetEvaluation[];
  seconds: number;
}

type Scores = Record<ScoreName, Float64Array>;

interface SetScores {
  scores: Scores;
  flagged: number;
  predicted: Int32Array;
  /** Per indexed layer, each input's squared distance to its nearest reference point. */
  nearest: Float64Array[];
}

const unscored = () =>
  Object.fromEntries(SCORES.map((score) => [score, { auroc: NaN, fprAt95Tpr: NaN, auprIn: NaN, auprOut: NaN, detectionError: NaN }])) as Record<ScoreName, OodMetrics>;

/** The value below which a share `1 - significance` of `values` lies. */
function upperQuantile(values: Float64Array, significance: number): number {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((1 - significance) * sorted.length))];
}

/** Every score's metrics and ROC curve on one set against the in-distribution test inputs. */
function compareSets(name: string, inDist: SetScores, out: SetScores, size: number, layers: string[], significance: number): SetEvaluation {
  const metrics = {} as Record<ScoreName, OodMetrics>;
  const roc = {} as Record<ScoreName, [number, number][]>;
  for (const score of SCORES) {
    // The metrics take in-distribution-ness (docs/design.md §3): outlier scores enter negated.
    const inScores = inDist.scores[score].map((v) => -v);
    const outScores = out.scores[score].map((v) => -v);
    metrics[score] = evaluateScores(inScores, outScores);
    // A score this model cannot give (energy without logits) is reported as such.
    if (Number.isNaN(inScores[0])) for (const key of Object.keys(metrics[score]) as (keyof OodMetrics)[]) metrics[score][key] = Number.NaN;
    roc[score] = rocCurve(inScores, outScores, 100);
  }
  const layerFlagged = Object.fromEntries(
    layers.map((layer, l) => {
      const threshold = upperQuantile(inDist.nearest[l], significance);
      return [layer, out.nearest[l].filter((d) => d > threshold).length / out.nearest[l].length];
    }),
  );
  return { name, size, flagged: out.flagged, layerFlagged, metrics, roc };
}

/**
 * The adversarial sets: each attack crafted against the model on up to `limit` test rows, and
 * the inputs whose class it changed scored like any other OOD set. A model without gradients
 * (ONNX) has none.
 */
async function adversarialSets(
  settings: DetectorSettings,
  manifest: ModelManifest,
  options: EvaluateOptions,
  score: (x: Matrix) => Promise<SetScores>,
  compare: (name: string, out: SetScores, size: number) => SetEvaluation,
): Promise<SetEvaluation[]> {
  if (!runtimeOf(manifest).capabilities.gradients) return [];
  const target: AttackTarget = await openAttackTarget(settings.modelsDir, settings.referenceSetsDir, manifest.name);
  try {
    const sets: SetEvaluation[] = [];
    for (const input of options.attacks ?? []) {
      const spec = AttackSpecSchema.parse(input);
      const { result } = craft(target, spec, { limit: options.attackLimit ?? options.limit, seed: options.seed });
      const fooled = Int32Array.from(Array.from(result.predicted).flatMap((p, i) => (p !== result.labels[i] ? [i] : [])));
      const attack = { ...spec, attacked: result.source.length, successRate: result.successRate };
      if (fooled.length === 0) {
        // An attack that changed nothing leaves nothing to score; its success rate still counts.
        sets.push({ name: attackName(spec), size: 0, flagged: Number.NaN, metrics: unscored(), roc: {} as SetEvaluation['roc'], attack });
        continue;
      }
      const x = selectRows({ data: result.adversarial, rows: result.source.length, cols: target.net.inputSize }, fooled);
      sets.push({ ...compare(attackName(spec), await score(x), x.rows), attack });
    }
    return sets;
  } finally {
    target.dispose();
  }
}

export interface EvaluateOptions {
  limit: number;
  seed: number;
  /** The near-OOD reference set; by default the shipped sets' partner (mnist <-> fashion-mnist). */
  partner?: string;
  /** Attacks crafted against the model on its test rows (tfjs models only); none when absent. */
  attacks?: AttackSpecInput[];
  /** Test rows each attack starts from; `limit` when absent. */
  attackLimit?: number;
  /** OOD sets of texts, for a text model: one text per line (.txt) or {"text"} per line (.jsonl). */
  textSets?: TextSetFile[];
}

/** The adversarial sets of docs/results.md: FGSM at three budgets, PGD (10 steps) at two, and the adaptive attack. */
export const STANDARD_ATTACKS: AttackSpecInput[] = [
  { method: 'fgsm', eps: 0.05 },
  { method: 'fgsm', eps: 0.1 },
  { method: 'fgsm', eps: 0.2 },
  { method: 'pgd', eps: 0.05 },
  { method: 'pgd', eps: 0.1 },
  { method: 'adaptive', eps: 0.1 },
];

/** The penultimate layer is the last indexed hidden layer: the features before the logits. */
function penultimateIndex(layers: string[]): number {
  for (let i = layers.length - 1; i >= 0; i--) if (layers[i] !== INPUT_LAYER) return i;
  throw new Error('the model indexes no hidden layer, so there is no penultimate layer to score');
}

/**
 * Where the logits are, for the energy score: the class output itself when the service applies
 * the softmax, the layer before it in this project's own MLPs, else nowhere (energy is then n/a).
 */
function logitsLayer(manifest: ModelManifest): string | undefined {
  if (manifest.output_activation === 'softmax') return manifest.output_layer;
  // Only `train` writes a PROBS_LAYER after a LOGITS_LAYER, and it writes tfjs models.
  if (runtimeNameOf(manifest) === 'tfjs' && manifest.output_layer === PROBS_LAYER) return LOGITS_LAYER;
  return undefined;
}

/**
 * Scores a model's in-distribution test part and its OOD sets with every baseline and with the
 * service's own detector, all on the same model and the same inputs.
 */
export async function evaluateModel(
  settings: DetectorSettings,
  options: EvaluateOptions,
  log: Log,
): Promise<ModelEvaluation> {
  const started = performance.now();
  if (runtimeNameOf(await readModelManifest(settings.modelsDir, settings.model)) === 'features') {
    // Its OOD sets would have to be the model server's outputs on OOD inputs, and no model is here.
    throw new OodError(
      'CONFIG_INVALID',
      `${settings.model} is a features model: its model runs elsewhere, so the OOD sets cannot be run through it here; ` +
        'evaluate the in-process model it was exported from, and compare the two with npm run check-features',
    );
  }
  const detector = await loadDetector(settings, log);
  let stored: LoadedModel;
  try {
    const manifest = await readModelManifest(settings.modelsDir, settings.model);
    const logits = logitsLayer(manifest);
    stored = await loadModel(settings.modelsDir, settings.model, logits ? [logits] : []);
  } catch (err) {
    detector.dispose();
    throw err;
  }
  const embedder = stored.model;
  try {
    return await scoreAll(detector, stored, settings, options, started);
  } finally {
    embedder.dispose();
    detector.dispose();
  }
}

async function scoreAll(
  detector: DeepKnnDetector,
  stored: LoadedModel,
  settings: DetectorSettings,
  options: EvaluateOptions,
  started: number,
): Promise<ModelEvaluation> {
  const { model: embedder, manifest, text } = stored;
  const refset = await loadReferenceSet(settings.referenceSetsDir, manifest.reference_set, { text });
  if (refset.test.x.rows === 0) {
    throw new OodError(
      'CONFIG_INVALID',
      `reference set ${manifest.reference_set} has no test rows to evaluate against: onboard the model with --test-data`,
    );
  }
  const penultimate = penultimateIndex(manifest.layers);
  const classes = manifest.labels.length;

  const train = await embedder.embed(Float32Array.from(refset.train.x.data), refset.train.x.rows);
  const mahalanobis = fitMahalanobis(train.activations[penultimate], refset.train.labels, classes);
  const knn = fitKnnDistance(train.activations[penultimate], { k: 50 });
  try {
    const score = async (x: Matrix): Promise<SetScores> => {
      const e = await embedder.embed(Float32Array.from(x.data), x.rows);
      const predictions = await predictMatrix(detector, x);
      const features = e.activations[penultimate];
      return {
        scores: {
          msp: mspOutlierScores(e.probabilities),
          energy: e.extras.length > 0 ? energyOutlierScores(e.extras[0]) : new Float64Array(x.rows).fill(Number.NaN),
          mahalanobis: mahalanobisOutlierScores(mahalanobis, features),
          knn_distance: knnDistanceOutlierScores(knn, features),
          dknn_credibility: Float64Array.from(predictions, (p) => -p.credibility),
          service: Float64Array.from(predictions, (p) => p.outlier_score),
        },
        flagged: predictions.filter((p) => p.is_outlier).length / predictions.length,
        predicted: Int32Array.from(predictions, (p) => p.class_index),
        nearest: manifest.layers.map((_, l) => Float64Array.from(predictions, (p) => p.layers[l].nearest_distance)),
      };
    };

    const inDist = await score(refset.test.x);
    let correct = 0;
    inDist.predicted.forEach((p, i) => (correct += p === refset.test.labels[i] ? 1 : 0));
    const compare = (name: string, out: SetScores, size: number): SetEvaluation =>
      compareSets(name, inDist, out, size, manifest.layers, settings.significance);
    const sets: SetEvaluation[] = [];
    const codes = embedder.inputs.some((i) => isIntegerDtype(i.dtype));
    for (const set of await loadOodSets(settings.referenceSetsDir, manifest.reference_set, options, { text, codes })) {
      sets.push(compare(set.name, await score(set.x), set.x.rows));
    }
    if (options.attacks?.length) sets.push(...(await adversarialSets(settings, manifest, options, score, compare)));
    return {
      model: manifest.name,
      referenceSet: manifest.reference_set,
      accuracy: correct / refset.test.x.rows,
      testSize: refset.test.x.rows,
      inDistributionFlagged: inDist.flagged,
      sets,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    knn.dispose();
  }
}
