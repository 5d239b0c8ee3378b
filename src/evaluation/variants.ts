/**
 * The model variants the paper reproduction compares: cross-entropy only against the SNNL
 * regulariser at two factors, each trained with three seeds, for both data sets. One list,
 * read by the training script and the report, so they cannot disagree.
 */
export interface Variant {
  id: string;
  title: string;
  snnlFactor: number;
}

export const VARIANTS: Variant[] = [
  { id: 'ce', title: 'cross-entropy only', snnlFactor: 0 },
  { id: 'snnl1', title: 'SNNL factor -1', snnlFactor: -1 },
  { id: 'snnl10', title: 'SNNL factor -10', snnlFactor: -10 },
];

export const SEEDS = [1, 2, 3];

/**
 * Epochs per data set. Fewer than the shipped models get: three variants x three seeds x two
 * sets must train in about an hour on 2 cores, and SNNL epochs cost about 2.5x more.
 */
export const DATASETS: { name: string; epochs: number }[] = [
  { name: 'mnist', epochs: 10 },
  { name: 'fashion-mnist', epochs: 4 },
];

export const VARIANTS_DIR = '.cache/variants';
export const VARIANT_MODELS_DIR = `${VARIANTS_DIR}/models`;

export function variantModelName(dataset: string, variant: Variant, seed: number): string {
  return `${dataset}-${variant.id}-s${seed}`;
}
