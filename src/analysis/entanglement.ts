import { OodError } from '../errors.js';
import type { Matrix } from '../math/matrix.js';
import { optimalTemperature, snnl, type DistanceKind, type TemperatureSearchOptions } from '../math/snnl.js';

/** A fixed temperature, or 'auto' for T* = argmin_T SNNL, the temperature the paper reads at. */
export type TemperatureChoice = number | 'auto';

export interface EntanglementOptions {
  temperature?: TemperatureChoice;
  distance?: DistanceKind;
  search?: TemperatureSearchOptions;
}

export interface Entanglement {
  snnl: number;
  temperature: number;
  distance: DistanceKind;
  points: number;
  /** Points whose class has no other member: they are no anchor, only neighbours of others. */
  skippedAnchors: number;
}

export interface LayerEntanglement {
  name: string;
  snnl: number;
  temperature: number;
}

/**
 * SNNL of one set of representations (docs/design.md §1). Unlike `snnl`, which must return a number
 * inside a training step, this refuses input on which SNNL means nothing: fewer than two points,
 * or no class with two members (every anchor would be skipped).
 */
export function measureEntanglement(x: Matrix, labels: ArrayLike<number>, options: EntanglementOptions = {}): Entanglement {
  const temperature = options.temperature ?? 'auto';
  const distance = options.distance ?? 'euclidean';
  if (labels.length !== x.rows) {
    throw new OodError('DATA_INVALID', `there are ${x.rows} embeddings but ${labels.length} labels`);
  }
  if (x.rows < 2) throw new OodError('DATA_INVALID', `SNNL needs at least 2 points, got ${x.rows}`);
  const skippedAnchors = countSingletons(labels);
  if (skippedAnchors === x.rows) {
    throw new OodError('DATA_INVALID', 'every class has a single member, so no point has a classmate and SNNL is undefined');
  }
  if (temperature !== 'auto' && !(Number.isFinite(temperature) && temperature > 0)) {
    throw new OodError('BAD_REQUEST', `temperature must be a finite positive number or "auto", got ${temperature}`);
  }
  const measured =
    temperature === 'auto'
      ? optimalTemperature(x, labels, distance, options.search)
      : { temperature, snnl: snnl(x, labels, temperature, distance) };
  return { ...measured, distance, points: x.rows, skippedAnchors };
}

/** measureEntanglement for each layer's activations of the same labelled points. */
export function entanglementByLayer(
  layers: { name: string; x: Matrix }[],
  labels: ArrayLike<number>,
  options: EntanglementOptions = {},
): LayerEntanglement[] {
  return layers.map(({ name, x }) => {
    const { snnl: value, temperature } = measureEntanglement(x, labels, options);
    return { name, snnl: value, temperature };
  });
}

function countSingletons(labels: ArrayLike<number>): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) counts.set(labels[i], (counts.get(labels[i]) ?? 0) + 1);
  let singletons = 0;
  for (const n of counts.values()) if (n === 1) singletons++;
  return singletons;
}
