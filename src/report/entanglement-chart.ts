import type { LayerEntanglement } from '../analysis/entanglement.js';
import { lineChartSvg } from './svg-line-chart.js';

export interface EpochEntanglement {
  epoch: number;
  layers: LayerEntanglement[];
}

/** The paper's figure: one curve per hidden layer, SNNL at the optimal temperature against epoch. */
export function entanglementCurvesSvg(history: EpochEntanglement[], title: string): string {
  const names = [...new Set(history.flatMap((h) => h.layers.map((l) => l.name)))];
  return lineChartSvg({
    title,
    xLabel: 'epoch',
    yLabel: 'SNNL at the optimal temperature',
    series: names.map((name) => ({
      name,
      points: history.flatMap((h) => h.layers.filter((l) => l.name === name).map((l): [number, number] => [h.epoch, l.snnl])),
    })),
  });
}
