import { densitySignal } from './density.js';
import { distanceSignal } from './distance.js';
import { labelSignal } from './label.js';
import type { Signal } from './signal.js';

/**
 * The signals the service combines, in the order they are reported:
 * - label: DkNN's disagreement of the neighbours with the predicted class;
 * - distance: how far the nearest reference points are, summed over layers;
 * - density: the Mahalanobis distance to the nearest class mean, summed over layers.
 */
export const SIGNALS: readonly Signal[] = [labelSignal, distanceSignal, densitySignal];

/** The signals of the table by name, as a scoring thread (which is sent names, not code) needs them. */
export function signalsNamed(names: readonly string[]): Signal[] {
  return names.map((name) => {
    const signal = SIGNALS.find((s) => s.name === name);
    if (!signal) throw new Error(`no signal named ${name} in the table (signals/table.ts)`);
    return signal;
  });
}
