import { z } from 'zod';
import { labelNonconformity } from './evidence.js';
import type { Signal } from './signal.js';

/** DkNN's own signal: how many neighbours, over all layers, disagree with the predicted class. */
export const labelSignal: Signal<Record<string, never>> = {
  name: 'label',
  paramsSchema: () => z.object({}).strict() as z.ZodType<Record<string, never>>,
  calibrate: () => ({}),
  score: (evidence, predicted, _params, k) => labelNonconformity(evidence, predicted, k),
};
