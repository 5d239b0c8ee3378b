/**
 * A small dependency-free SVG line chart for the reports: entanglement curves over epochs, ROC
 * curves, anything that is a few named series of (x, y) points. The output is deterministic
 * (same input, same bytes), so regenerated reports diff cleanly.
 */

export interface LineSeries {
  name: string;
  /** Drawn in the given order (a ROC curve is not sorted by x). Non-finite points are left out. */
  points: [number, number][];
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  width?: number;
  height?: number;
  /** Fixed axis ranges, e.g. [0, 1] for ROC curves; otherwise fitted to the data and rounded to ticks. */
  xDomain?: [number, number];
  yDomain?: [number, number];
  /** Logarithmic x axis; points with x <= 0 are left out. */
  logX?: boolean;
  /** A dot at every point. Default: on when no series has more than 40 points. */
  markers?: boolean;
  /**
   * Beside the plot, or below it (one row per series, taking height from the plot). Default:
   * beside when the longest name fits in a third of the width, else below, so that long names
   * (such as a score with its AUROC) are not cut.
   */
  legend?: 'right' | 'bottom';
}

/** Tableau 10: distinct, and tolerable for the common colour-vision deficiencies. */
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
/** After ten series the colours repeat, so the dash pattern tells them apart. */
const DASHES = ['', '6 3', '2 3', '8 3 2 3'];
const TICK_TARGET = 6;
const MARKER_LIMIT = 40;
/** A generous average glyph width of the 12px sans-serif legend text, to size the legend. */
const CHAR_WIDTH = 7.5;
/** Room around the plot area inside which lines and dots are still drawn, so edge dots show whole. */
const CLIP_MARGIN = 4;
const LEGEND_ROW = 18;

interface Axis {
  domain: [number, number];
  ticks: number[];
  log: boolean;
  format: (v: number) => string;
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

export function lineChartSvg(options: LineChartOptions): string {
  const width = options.width ?? 640;
  const height = options.height ?? 400;
  const logX = options.logX ?? false;
  const series = options.series.map((s) => ({
    name: s.name,
    points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logX || x > 0)),
  }));
  const all = series.flatMap((s) => s.points);
  const xAxis = logX
    ? logAxis(options.xDomain ?? extent(all.map((p) => p[0])), options.xDomain !== undefined)
    : linearAxis(options.xDomain ?? extent(all.map((p) => p[0])), options.xDomain !== undefined);
  const yAxis = linearAxis(options.yDomain ?? extent(all.map((p) => p[1])), options.yDomain !== undefined);

  const longestName = Math.max(0, ...series.map((s) => s.name.length));
  const legendAt = options.legend ?? (34 + CHAR_WIDTH * longestName <= width / 3 ? 'right' : 'bottom');
  // Names that still do not fit are cut; the full name is in the tooltip.
  const legendChars = Math.max(4, Math.floor(((legendAt === 'right' ? 0.4 * width : width - 80) - 34) / CHAR_WIDTH));
  const legendNames = series.map((s) => (s.name.length > legendChars ? `${s.name.slice(0, legendChars - 1)}…` : s.name));
  const legendWidth = series.length > 0 ? 34 + CHAR_WIDTH * Math.max(0, ...legendNames.map((n) => n.length)) : 0;
  const legendHeight = legendAt === 'bottom' && series.length > 0 ? 8 + LEGEND_ROW * series.length : 0;
  const plot = {
    left: 70,
    top: 36,
    right: Math.max(110, width - 16 - (legendAt === 'right' ? legendWidth : 0)),
    bottom: Math.max(76, height - 52 - legendHeight),
  };
  const sx = scale(xAxis, plot.left, plot.right);
  const sy = scale(yAxis, plot.bottom, plot.top);
  const markers = options.markers ?? series.every((s) => s.points.length <= MARKER_LIMIT);

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(options.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<defs><clipPath id="plot-area"><rect x="${fmt(plot.left - CLIP_MARGIN)}" y="${plot.top - CLIP_MARGIN}" width="${fmt(plot.right - plot.left + 2 * CLIP_MARGIN)}" height="${plot.bottom - plot.top + 2 * CLIP_MARGIN}"/></clipPath></defs>`,
    `<text x="${fmt((plot.left + plot.right) / 2)}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];

  parts.push(...axesSvg(xAxis, yAxis, sx, sy, plot, options));
  parts.push('<g class="series" clip-path="url(#plot-area)">', ...seriesSvg(series, sx, sy, markers));
  parts.push('</g>', '<g class="legend">', ...legendSvg(series, legendNames, legendAt, plot));
  parts.push('</g>', '</svg>');
  return `${parts.join('\n')}\n`;
}

interface Plot {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** Grid lines, ticks and labels of both axes, and the plot's frame. */
function axesSvg(xAxis: Axis, yAxis: Axis, sx: (v: number) => number, sy: (v: number) => number, plot: Plot, options: LineChartOptions): string[] {
  const parts = ['<g class="x-axis">'];
  for (const t of xAxis.ticks) {
    const x = fmt(sx(t));
    parts.push(
      `<line x1="${x}" y1="${plot.top}" x2="${x}" y2="${plot.bottom}" stroke="#e5e5e5"/>`,
      `<line x1="${x}" y1="${plot.bottom}" x2="${x}" y2="${plot.bottom + 5}" stroke="#333333"/>`,
      `<text x="${x}" y="${plot.bottom + 18}" text-anchor="middle">${escapeXml(xAxis.format(t))}</text>`,
    );
  }
  parts.push(
    `<text x="${fmt((plot.left + plot.right) / 2)}" y="${plot.bottom + 40}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    '</g>',
    '<g class="y-axis">',
  );
  for (const t of yAxis.ticks) {
    const y = fmt(sy(t));
    parts.push(
      `<line x1="${plot.left}" y1="${y}" x2="${plot.right}" y2="${y}" stroke="#e5e5e5"/>`,
      `<line x1="${plot.left - 5}" y1="${y}" x2="${plot.left}" y2="${y}" stroke="#333333"/>`,
      `<text x="${plot.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(yAxis.format(t))}</text>`,
    );
  }
  const yMid = fmt((plot.top + plot.bottom) / 2);
  parts.push(
    `<text x="16" y="${yMid}" text-anchor="middle" transform="rotate(-90 16 ${yMid})">${escapeXml(options.yLabel)}</text>`,
    '</g>',
    `<rect x="${plot.left}" y="${plot.top}" width="${plot.right - plot.left}" height="${plot.bottom - plot.top}" fill="none" stroke="#333333"/>`,
  );
  return parts;
}

/** Each series as a path, with its dots when markers are on (a lone point always gets its dot: it draws no line). */
function seriesSvg(series: LineSeries[], sx: (v: number) => number, sy: (v: number) => number, markers: boolean): string[] {
  return series.flatMap((s, i) => {
    const style = seriesStyle(i);
    const d = s.points.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${fmt(sx(x))},${fmt(sy(y))}`).join(' ');
    const parts = [`<path d="${d}" fill="none" stroke="${style.colour}" stroke-width="2" stroke-linejoin="round"${style.dash}><title>${escapeXml(s.name)}</title></path>`];
    if (markers || s.points.length === 1) {
      for (const [x, y] of s.points) parts.push(`<circle cx="${fmt(sx(x))}" cy="${fmt(sy(y))}" r="3" fill="${style.colour}"/>`);
    }
    return parts;
  });
}

/** One legend row per series, beside the plot or below it; a cut name keeps its full text in the tooltip. */
function legendSvg(series: LineSeries[], names: string[], at: 'right' | 'bottom', plot: Plot): string[] {
  return series.flatMap((s, i) => {
    const style = seriesStyle(i);
    const x = at === 'right' ? plot.right + 14 : plot.left;
    const y = (at === 'right' ? plot.top + 8 : plot.bottom + 60) + i * LEGEND_ROW;
    return [
      `<line x1="${x}" y1="${y}" x2="${x + 20}" y2="${y}" stroke="${style.colour}" stroke-width="3"${style.dash}/>`,
      `<text x="${x + 26}" y="${y}" dominant-baseline="middle">${escapeXml(names[i])}<title>${escapeXml(s.name)}</title></text>`,
    ];
  });
}

function seriesStyle(i: number): { colour: string; dash: string } {
  const dash = DASHES[Math.floor(i / PALETTE.length) % DASHES.length];
  return { colour: PALETTE[i % PALETTE.length], dash: dash ? ` stroke-dasharray="${dash}"` : '' };
}

/** Two decimals are finer than a pixel; a non-finite coordinate (never expected) becomes 0, not "NaN". */
function fmt(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 100) / 100) : '0';
}

function extent(values: number[]): [number, number] {
  if (values.length === 0) return [Number.NaN, Number.NaN];
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** A usable linear range: an empty, reversed or zero-width one is widened around its value. */
function widenLinear([lo, hi]: [number, number]): [number, number] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return [lo - pad, hi + pad];
  }
  return [lo, hi];
}

/** 1, 2 or 5 times a power of ten, close to `raw`. */
function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  return (fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10) * power;
}

function linearAxis(requested: [number, number], fixed: boolean): Axis {
  let [lo, hi] = widenLinear(requested);
  const step = niceStep((hi - lo) / TICK_TARGET);
  if (!fixed) {
    lo = Math.floor(lo / step) * step;
    hi = Math.ceil(hi / step) * step;
  }
  const ticks: number[] = [];
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  for (let k = first; k <= last; k++) ticks.push(Number((k * step).toPrecision(12)));
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  const largest = Math.max(Math.abs(lo), Math.abs(hi));
  // Very large or very fine ticks read better as 2.5e12 or 2.5e-9: as many digits as the step needs.
  const exponential = largest >= 1e6 || decimals > 5;
  const digits = Math.min(6, Math.max(0, Math.floor(Math.log10(largest)) - Math.floor(Math.log10(step))));
  const format = (v: number): string =>
    v === 0 ? '0' : exponential ? v.toExponential(digits).replace('e+', 'e') : v.toFixed(decimals);
  return { domain: [lo, hi], ticks, log: false, format };
}

function logAxis(requested: [number, number], fixed: boolean): Axis {
  let [lo, hi] = requested;
  if (!(lo > 0) || !(hi > 0) || !Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [1, 10];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) [lo, hi] = [lo / 10, hi * 10];
  if (!fixed) [lo, hi] = [10 ** Math.floor(Math.log10(lo)), 10 ** Math.ceil(Math.log10(hi))];
  const decades = Math.log10(hi) - Math.log10(lo);
  // Under three decades the powers of ten alone are too few ticks: add 2x and 5x.
  const multiples = decades < 3 ? [1, 2, 5] : [1];
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of multiples) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push(v);
    }
  }
  const format = (v: number): string => (v >= 1e-4 && v < 1e6 ? String(Number(v.toPrecision(6))) : v.toExponential(0));
  return { domain: [lo, hi], ticks, log: true, format };
}

function scale(axis: Axis, from: number, to: number): (v: number) => number {
  const t = axis.log ? Math.log10 : (v: number) => v;
  const t0 = t(axis.domain[0]);
  const span = t(axis.domain[1]) - t0;
  return (v) => from + ((t(v) - t0) / span) * (to - from);
}
