import type { OodMetrics } from '../math/ood-metrics.js';
import type { ModelEvaluation, ScoreName } from './evaluate-model.js';
import { SEEDS, variantModelName, type Variant } from './variants.js';

/** What docs/results.md is rendered from, and the arithmetic its sections share. */
export interface ResultsInput {
  variants: Record<string, ModelEvaluation>;
  shipped: ModelEvaluation[];
  trainSeconds: Record<string, number>;
  entanglementSvgs: Record<string, string>;
  /** SNNL at T* per hidden layer after the last epoch, by variant model name. */
  finalEntanglement: Record<string, Record<string, number>>;
  evaluationSeconds: number;
  command: string;
  trainCommand: string;
  machine: string;
}

export function meanStd(values: number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.length > 1 ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

export const pm = (values: number[], digits = 4) => {
  if (values.length === 0) return 'n/a';
  const { mean, std } = meanStd(values);
  return `${mean.toFixed(digits)} ± ${std.toFixed(digits)}`;
};

export function runsOf(input: ResultsInput, dataset: string, variant: Variant): ModelEvaluation[] {
  return SEEDS.map((seed) => input.variants[variantModelName(dataset, variant, seed)]).filter((e): e is ModelEvaluation => !!e);
}

export function metricOf(runs: ModelEvaluation[], set: string, score: ScoreName, metric: keyof OodMetrics): number[] {
  return runs.map((r) => r.sets.find((s) => s.name === set)?.metrics[score][metric]).filter((v): v is number => v !== undefined);
}

/** The sets of natural outliers, without the adversarial ones (which have a section of their own). */
export const oodSets = (e: ModelEvaluation) => e.sets.filter((s) => !s.attack);

/** The verdict rule of the page: a difference counts when the means differ by more than the larger standard deviation. */
export function compare(a: number[], b: number[]): { delta: number; clear: boolean } {
  const x = meanStd(a);
  const y = meanStd(b);
  const delta = y.mean - x.mean;
  return { delta, clear: Math.abs(delta) > Math.max(x.std, y.std) };
}

