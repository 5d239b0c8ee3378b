export { escapeXml, lineChartSvg, type LineChartOptions, type LineSeries } from './svg-line-chart.js';
export { entanglementCurvesSvg, type EpochEntanglement } from './entanglement-chart.js';
