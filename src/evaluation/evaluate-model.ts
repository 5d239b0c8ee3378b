import { fitKnnDistance, knnDistanceOutlierScores } from '../baselines/knn-distance.js';
import { energyOutlierScores } from '../baselines/energy.js';
import { fitMahalanobis, mahalanobisOutlierScores } from '../math/mahalanobis.js';
import { mspOutlierScores } from '../baselines/msp.js';
import type { DeepKnnDetector } from '../detector/deep-knn-detector.js';
import { loadDetector, type DetectorSettings } from '../detector/load-detector.js';
import { predictMatrix } from '../detector/predict-matrix.js';
import { OodError } from '../errors.js';
import type { Log } from '../log.js';
import type { Matrix } from '../math/matrix.js';
import { evaluateScores, rocCurve, type OodMetrics } from '../math/ood-metrics.js';
import type { EmbeddingModel } from '../model/embedding.js';
import { INPUT_LAYER, type ModelManifest } from '../model/manifest.js';
import { LOGITS_LAYER, PROBS_LAYER } from '../model/mlp.js';
import { loadModel, readModelManifest, type LoadedModel } from '../model/model-store.js';
import { loadReferenceSet } from '../reference/load-reference-set.js';
import { loadOodSets } from '../reference/ood-sets.js';

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

export interface EvaluateOptions {
  limit: number;
  seed: number;
  /** The near-OOD reference set; by default the shipped sets' partner (mnist <-> fashion-mnist). */
  partner?: string;
}

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
  if ((manifest.runtime ?? 'tfjs') === 'tfjs' && manifest.output_layer === PROBS_LAYER) return LOGITS_LAYER;
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
    return await scoreAll(detector, embedder, stored.manifest, settings, options, started);
  } finally {
    embedder.dispose();
    detector.dispose();
  }
}

async function scoreAll(
  detector: DeepKnnDetector,
  embedder: EmbeddingModel,
  manifest: ModelManifest,
  settings: DetectorSettings,
  options: EvaluateOptions,
  started: number,
): Promise<ModelEvaluation> {
  const refset = await loadReferenceSet(settings.referenceSetsDir, manifest.reference_set);
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
    const score = async (x: Matrix): Promise<{ scores: Scores; flagged: number; predicted: Int32Array }> => {
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
      };
    };

    const inDist = await score(refset.test.x);
    let correct = 0;
    inDist.predicted.forEach((p, i) => (correct += p === refset.test.labels[i] ? 1 : 0));
    const sets: SetEvaluation[] = [];
    for (const set of await loadOodSets(settings.referenceSetsDir, manifest.reference_set, options)) {
      const out = await score(set.x);
      const metrics = {} as Record<ScoreName, OodMetrics>;
      const roc = {} as Record<ScoreName, [number, number][]>;
      for (const name of SCORES) {
        // The metrics take in-distribution-ness (docs/design.md §3): outlier scores enter negated.
        const inScores = inDist.scores[name].map((v) => -v);
        const outScores = out.scores[name].map((v) => -v);
        metrics[name] = evaluateScores(inScores, outScores);
        // A score this model cannot give (energy without logits) is reported as such.
        if (Number.isNaN(inScores[0])) for (const key of Object.keys(metrics[name]) as (keyof OodMetrics)[]) metrics[name][key] = Number.NaN;
        roc[name] = rocCurve(inScores, outScores, 100);
      }
      sets.push({ name: set.name, size: set.x.rows, flagged: out.flagged, metrics, roc });
    }
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
