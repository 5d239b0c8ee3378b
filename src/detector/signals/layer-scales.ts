import { z } from 'zod';
import { robustScale } from '../../math/conformal.js';
import { measuredBy, type Evidence, type ReferenceModel, type Signal } from './signal.js';

const Scale = z.object({ center: z.number(), scale: z.number().positive() });
export type Scale = z.infer<typeof Scale>;

/** Logs make the tails of layers with different scales comparable. */
const logs = (values: ArrayLike<number>) => Array.from(values, (d) => Math.log(d + 1e-12));

/**
 * A signal that sums, over layers, the robust z-score of the log of one value per layer: the
 * form of the distance and density signals. Calibration learns each layer's centre and spread.
 */
export function logSumSignal<M>(parts: {
  name: string;
  reference?: ReferenceModel<M>;
  /** The value per layer, all positive, larger meaning stranger; by default what `reference` measured. */
  values?: (evidence: Evidence) => ArrayLike<number>;
}): Signal<Scale[], M> {
  const valuesOf = parts.values ?? ((evidence: Evidence) => measuredBy(evidence, parts.name));
  return {
    name: parts.name,
    ...(parts.reference ? { reference: parts.reference } : {}),
    paramsSchema: (layers) => z.array(Scale).length(layers),
    calibrate(evidence) {
      const perRow = evidence.map((e) => logs(valuesOf(e)));
      return perRow[0].map((_, l) => robustScale(perRow.map((v) => v[l])));
    },
    score(evidence, _predicted, scales) {
      const values = logs(valuesOf(evidence));
      let sum = 0;
      for (let l = 0; l < values.length; l++) sum += (values[l] - scales[l].center) / scales[l].scale;
      return sum;
    },
  };
}
