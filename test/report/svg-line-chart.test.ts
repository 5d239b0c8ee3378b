import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { entanglementCurvesSvg } from '../../src/report/entanglement-chart.js';
import { escapeXml, lineChartSvg, type LineChartOptions } from '../../src/report/svg-line-chart.js';

/**
 * A strict little XML check: tags nest and close, attribute values are quoted, and text holds no
 * raw '<' and no '&' outside an entity. Enough to catch broken escaping or an unclosed element.
 */
function assertWellFormed(svg: string): void {
  const stack: string[] = [];
  const token = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  let match: RegExpExecArray | null;
  let consumed = 0;
  while ((match = token.exec(svg)) !== null) {
    consumed += match[0].length;
    const [, closing, name, , selfClosing, text, stray] = match;
    assert.equal(stray, undefined, `malformed tag at ${match.index}: ${svg.slice(match.index, match.index + 60)}`);
    if (text !== undefined) {
      assert.doesNotMatch(text, /&(?!(amp|lt|gt|quot|apos);)/, `raw & in text: ${text}`);
    } else if (closing) {
      assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    } else if (!selfClosing) {
      stack.push(name);
    }
  }
  assert.equal(consumed, svg.length);
  assert.deepEqual(stack, [], 'unclosed elements');
  for (const [, value] of svg.matchAll(/="([^"]*)"/g)) assert.doesNotMatch(value, /&(?!(amp|lt|gt|quot|apos);)/);
}

function paths(svg: string): { d: string; stroke: string; dash: string }[] {
  const attribute = (tag: string, name: string): string => new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1] ?? '';
  return [...svg.matchAll(/<path\s[^>]*>/g)].map(([tag]) => ({
    d: attribute(tag, 'd'),
    stroke: attribute(tag, 'stroke'),
    dash: attribute(tag, 'stroke-dasharray'),
  }));
}

function assertNoNonFinite(svg: string): void {
  assert.doesNotMatch(svg, /NaN|Infinity|undefined/);
}

const base: LineChartOptions = {
  title: 'ROC',
  xLabel: 'false positive rate',
  yLabel: 'true positive rate',
  series: [
    { name: 'MSP', points: [[0, 0], [0.2, 0.6], [1, 1]] },
    { name: 'energy', points: [[0, 0], [0.1, 0.7], [1, 1]] },
    { name: 'kNN', points: [[0, 0], [0.05, 0.9], [1, 1]] },
  ],
  xDomain: [0, 1],
  yDomain: [0, 1],
};

describe('lineChartSvg', () => {
  it('is well-formed SVG with one path per series, in distinct colours, and a legend', () => {
    const svg = lineChartSvg(base);
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="640" height="400"'));
    assert.ok(svg.endsWith('</svg>\n'));
    assertWellFormed(svg);
    assertNoNonFinite(svg);
    const drawn = paths(svg);
    assert.equal(drawn.length, 3);
    assert.equal(new Set(drawn.map((p) => p.stroke)).size, 3);
    for (const name of ['MSP', 'energy', 'kNN']) assert.match(svg, new RegExp(`<text[^>]*>${name}<title>${name}</title></text>`));
    for (const label of ['ROC', 'false positive rate', 'true positive rate']) assert.ok(svg.includes(`>${label}<`), label);
  });

  it('maps a fixed domain onto the plot: (0,0) bottom left, (1,1) top right', () => {
    const svg = lineChartSvg({ ...base, series: [{ name: 'diagonal', points: [[0, 0], [1, 1]] }] });
    const frame = /<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="none"/.exec(svg);
    assert.ok(frame);
    const [left, top, w, h] = frame.slice(1).map(Number);
    assert.equal(paths(svg)[0].d, `M${left},${top + h} L${left + w},${top}`);
    for (const tick of ['0', '0.2', '0.4', '0.6', '0.8', '1.0']) assert.ok(svg.includes(`>${tick}</text>`), tick);
  });

  it('escapes every piece of text', () => {
    const nasty = `<b>"A&B" 'quoted'</b>`;
    const svg = lineChartSvg({ ...base, title: nasty, xLabel: nasty, yLabel: nasty, series: [{ name: nasty, points: [[0, 0], [1, 1]] }] });
    assertWellFormed(svg);
    assert.ok(!svg.includes('<b>'));
    assert.ok(svg.includes('&lt;b&gt;&quot;A&amp;B&quot; &apos;quoted&apos;&lt;/b&gt;'));
    assert.equal(escapeXml(`&<>"'`), '&amp;&lt;&gt;&quot;&apos;');
  });

  it('survives degenerate data without NaN: a single point, a constant series, nothing at all', () => {
    const cases: LineChartOptions[] = [
      { ...base, xDomain: undefined, yDomain: undefined, series: [{ name: 'one point', points: [[3, 5]] }] },
      { ...base, xDomain: undefined, yDomain: undefined, series: [{ name: 'flat', points: [[0, 2], [1, 2], [2, 2]] }] },
      { ...base, xDomain: undefined, yDomain: undefined, series: [{ name: 'all zero', points: [[0, 0], [0, 0]] }] },
      { ...base, xDomain: undefined, yDomain: undefined, series: [{ name: 'empty', points: [] }] },
      { ...base, xDomain: undefined, yDomain: undefined, series: [] },
      { ...base, xDomain: [1, 1], yDomain: [2, 2], series: [{ name: 'zero-width domains', points: [[1, 2]] }] },
      { ...base, xDomain: undefined, yDomain: undefined, series: [{ name: 'huge', points: [[0, 1e12], [1, 1e12 + 1]] }] },
      { ...base, xDomain: undefined, yDomain: undefined, series: [{ name: 'tiny', points: [[0, 1e-9], [1, 3e-9]] }] },
      { ...base, xDomain: undefined, logX: true, series: [{ name: 'log, one point', points: [[100, 0.5]] }] },
      { ...base, xDomain: undefined, logX: true, series: [{ name: 'log, no positive x', points: [[0, 0.5], [-1, 1]] }] },
      { ...base, width: 120, height: 90 },
    ];
    for (const options of cases) {
      const svg = lineChartSvg(options);
      const what = options.series[0]?.name ?? 'no series';
      assertWellFormed(svg);
      assertNoNonFinite(svg);
      assert.equal(paths(svg).length, options.series.length, what);
      for (const m of svg.matchAll(/\s(?:x|y|x1|y1|x2|y2|cx|cy|width|height)="([^"]*)"/g)) {
        assert.ok(Number.isFinite(Number(m[1])), `${what}: ${m[0]}`);
      }
    }
    // A lone point draws no line, so it gets a dot.
    assert.match(lineChartSvg(cases[0]), /<circle /);
  });

  it('leaves out non-finite points instead of writing NaN', () => {
    const svg = lineChartSvg({ ...base, series: [{ name: 'gaps', points: [[0, 0], [0.5, Number.NaN], [Infinity, 1], [1, 1]] }] });
    assertNoNonFinite(svg);
    assert.equal(paths(svg)[0].d.split(' ').length, 2);
  });

  it('draws a log x axis with decade ticks and leaves out x <= 0', () => {
    const svg = lineChartSvg({
      ...base,
      xDomain: undefined,
      logX: true,
      series: [{ name: 'snnl(T)', points: [[0, 9], [0.001, 3], [0.1, 1], [10, 2], [1000, 4]] }],
    });
    assertNoNonFinite(svg);
    for (const tick of ['0.001', '0.01', '0.1', '1', '10', '100', '1000']) assert.ok(svg.includes(`>${tick}</text>`), tick);
    assert.equal(paths(svg)[0].d.split(' ').length, 4);
  });

  it('tells more than ten series apart by colour and dash', () => {
    const series = Array.from({ length: 14 }, (_, i) => ({ name: `s${i}`, points: [[0, i], [1, i + 1]] as [number, number][] }));
    const drawn = paths(lineChartSvg({ ...base, yDomain: undefined, series }));
    assert.equal(drawn.length, 14);
    assert.equal(new Set(drawn.map((p) => `${p.stroke}|${p.dash}`)).size, 14);
  });

  it('moves long legend names below the plot instead of cutting them', () => {
    const name = 'kNN distance, normalised penultimate layer (0.990)';
    const svg = lineChartSvg({ ...base, series: [{ name, points: [[0, 0], [1, 1]] }] });
    assertWellFormed(svg);
    assert.ok(svg.includes(`>${name}<title>`), 'the whole name is shown');
    const frame = /<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="none"/.exec(svg);
    const legend = /<g class="legend">\n<line x1="([\d.]+)" y1="([\d.]+)"/.exec(svg);
    assert.ok(frame && legend);
    assert.equal(Number(frame[1]) + Number(frame[3]), 640 - 16, 'the plot takes the whole width');
    assert.ok(Number(legend[2]) > Number(frame[2]) + Number(frame[4]), 'the legend is below the plot');
    assert.ok(Number(legend[2]) < 400, 'and inside the picture');
    // Forced beside the plot, the name is cut to fit, and kept whole in its tooltip.
    const beside = lineChartSvg({ ...base, legend: 'right', series: [{ name, points: [[0, 0], [1, 1]] }] });
    assert.ok(beside.includes(`…<title>${name}</title>`));
  });

  it('is deterministic', () => {
    assert.equal(lineChartSvg(base), lineChartSvg(structuredClone(base)));
  });
});

describe('entanglementCurvesSvg', () => {
  it('draws one curve per layer over the epochs', () => {
    const history = [1, 2, 3].map((epoch) => ({
      epoch,
      layers: [
        { name: 'hidden1', snnl: 1 / epoch, temperature: 1 },
        { name: 'hidden2', snnl: 0.5, temperature: 2 },
      ],
    }));
    const svg = entanglementCurvesSvg(history, 'mnist & co');
    assertWellFormed(svg);
    assertNoNonFinite(svg);
    const drawn = paths(svg);
    assert.equal(drawn.length, 2);
    assert.equal(drawn[0].d.split(' ').length, 3);
    assert.ok(svg.includes('>hidden1<') && svg.includes('>hidden2<') && svg.includes('mnist &amp; co'));
    assert.ok(svg.includes('>epoch<'));
  });
});
