import type { Detector, Prediction } from '../../detector/types.js';
import { featureDeviations, type FeatureDeviation } from '../../math/feature-deviation.js';
import { INPUT_LAYER } from '../../model/manifest.js';
import { inputDisplay } from './display.js';

/** Nearest reference examples kept per layer of a flagged input: the ones the page shows. */
export const NEIGHBORS_SHOWN = 5;
/** Whatever the entry count, the inputs kept per model stay under this (large images add up). */
export const MAX_INPUT_BYTES_PER_MODEL = 64 * 1024 * 1024;

export interface FlaggedEntry {
  /** Increases with every flagged input, across models, so the page can tell new ones. */
  id: number;
  time: string;
  model: string;
  version: string;
  label: string;
  class_index: number;
  outlier_score: number;
  p_values: Record<string, number>;
  /** The input as the model took it. */
  input: Float32Array;
  layers: { name: string; k: number; in_class_neighbors: number; nearest: { id: number; label: string; text?: string }[] }[];
  /** A text model's input as the text its tokens spell (lower-cased, unknown words as [UNK], as the model saw it). */
  text?: string;
  /** Tabular inputs: each feature against the nearest examples' mean, the furthest marked. */
  features?: FeatureDeviation[];
}

/**
 * The last flagged inputs of every model, kept in memory for review: at most `capacity` per
 * model, the oldest dropped first, so the memory is bounded by capacity x input size.
 */
export class ReviewStore {
  private readonly byModel = new Map<string, FlaggedEntry[]>();
  /** Unloaded models, whose requests still finishing are not kept (see forget). */
  private readonly forgotten = new Set<string>();
  private next = 1;

  constructor(readonly capacity: number) {}

  /** Keeps the flagged rows of one scored batch; the predictions must carry neighbour ids. */
  record(detector: Detector, inputs: Float32Array, predictions: readonly Prediction[]): void {
    const { info } = detector;
    if (this.forgotten.has(info.name)) return;
    const width = inputs.length / predictions.length;
    const table = inputDisplay(info).kind === 'table';
    predictions.forEach((p, row) => {
      if (!p.is_outlier) return;
      const input = inputs.subarray(row * width, (row + 1) * width);
      const layers = p.layers.map((layer) => ({
        name: layer.name,
        k: layer.k,
        in_class_neighbors: layer.in_class_neighbors,
        nearest: (layer.neighbor_ids ?? []).slice(0, NEIGHBORS_SHOWN).map((id) => {
          const example = detector.reference?.(id);
          const text = example && detector.text ? { text: detector.text.decode(example.values) } : {};
          return { id, label: example?.label ?? '?', ...text };
        }),
      }));
      const entry: FlaggedEntry = {
        id: this.next++,
        time: new Date().toISOString(),
        model: info.name,
        version: info.version,
        label: p.label,
        class_index: p.class_index,
        outlier_score: p.outlier_score,
        p_values: p.p_values,
        input: Float32Array.from(input),
        layers,
        ...(table ? { features: this.features(detector, input, layers) } : {}),
        ...(detector.text ? { text: detector.text.decode(input) } : {}),
      };
      const kept = this.byModel.get(info.name) ?? [];
      kept.push(entry);
      let drop = Math.max(0, kept.length - this.capacity);
      while (drop < kept.length - 1 && (kept.length - drop) * entry.input.byteLength > MAX_INPUT_BYTES_PER_MODEL) drop++;
      if (drop > 0) kept.splice(0, drop);
      this.byModel.set(info.name, kept);
    });
  }

  /**
   * Drops what was kept for a model that is no longer served (a repository unload), and keeps
   * nothing more for it until `remember`: its requests still finishing would otherwise keep
   * inputs no page can show.
   */
  forget(model: string): void {
    this.byModel.delete(model);
    this.forgotten.add(model);
  }

  /** The model serves again (loaded anew): its flagged inputs are kept from now on. */
  remember(model: string): void {
    this.forgotten.delete(model);
  }

  /** Newest first, at most `limit`, only those older than entry `before` when given; and how many are kept. */
  page(model: string, limit: number, before?: number): { entries: FlaggedEntry[]; kept: number } {
    const kept = this.byModel.get(model) ?? [];
    const older = before === undefined ? kept : kept.filter((e) => e.id < before);
    return { entries: older.slice(-limit).reverse(), kept: kept.length };
  }

  /** Compared in the raw input's space, with the input layer's neighbours when it is indexed. */
  private features(detector: Detector, input: Float32Array, layers: FlaggedEntry['layers']): FeatureDeviation[] | undefined {
    const scale = detector.featureScale?.();
    const layer = layers.find((l) => l.name === INPUT_LAYER) ?? layers[0];
    if (!scale || !layer) return undefined;
    const neighbors = layer.nearest.map((n) => detector.reference?.(n.id)?.values).filter((v): v is Float32Array => v !== undefined);
    return featureDeviations(input, neighbors, scale);
  }
}
