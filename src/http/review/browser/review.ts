/**
 * The review page's script, run in the browser. The server compiles it once with esbuild (types
 * stripped, one IIFE, nothing bundled) and serves it from /review/review.js, so it is
 * type-checked and linted with the rest of src/ and reads the routes' answers through their own
 * schemas' types.
 */
import type { Display, FlaggedEntryView, Outliers, Reference } from '../review-schemas.js';

type Attributes = Record<string, string | number>;
type Child = Node | string | number;
type Feature = NonNullable<FlaggedEntryView['features']>[number];
type Neighbor = FlaggedEntryView['layers'][number]['nearest'][number];
type ImageDisplay = Extract<Display, { kind: 'image' }>;

function el(tag: string, attrs: Attributes = {}, children: Child[] = []): HTMLElement {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { credentials: 'same-origin' });
  const body = (await res.json()) as T & { error?: string | { message?: string } };
  if (!res.ok) throw new Error(`${path}: ${typeof body.error === 'string' ? body.error : body.error?.message}`);
  return body;
}

/** Min-max scaled to grey levels (or colours), whatever the model's own input scale. */
function picture(values: number[], display: ImageDisplay, scale: number): HTMLCanvasElement {
  const { width: w, height: h, channels: c } = display;
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  canvas.style.width = `${w * scale}px`;
  canvas.style.height = `${h * scale}px`;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi > lo ? hi - lo : 1;
  const ctx = canvas.getContext('2d');
  if (!ctx) return canvas;
  const img = ctx.createImageData(w, h);
  for (let p = 0; p < w * h; p++) {
    for (let ch = 0; ch < 3; ch++) {
      const k = c === 1 ? 0 : ch;
      const v = display.layout === 'nhwc' ? values[p * c + k] : values[k * w * h + p];
      img.data[p * 4 + ch] = Math.round((255 * (v - lo)) / span);
    }
    img.data[p * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

/** The marked features first, then up to seven others. */
function featureTable(features: Feature[]): HTMLElement {
  const rows = features.filter((f) => f.marked).concat(features.filter((f) => !f.marked).slice(0, 7));
  const table = el('table', {}, [el('tr', {}, [el('th', {}, ['feature']), el('th', {}, ['value']), el('th', {}, ['nearest examples']), el('th', {}, ['deviation'])])]);
  for (const f of rows) {
    table.append(
      el('tr', f.marked ? { class: 'marked' } : {}, [
        el('td', {}, [f.index]),
        el('td', {}, [f.value.toPrecision(4)]),
        el('td', {}, [f.neighbor_mean.toPrecision(4)]),
        el('td', {}, [f.deviation.toFixed(2)]),
      ]),
    );
  }
  return table;
}

function reference(model: string, version: string, display: Display, neighbor: Neighbor, predicted: string): HTMLElement {
  const box = el('span', { class: 'ref' });
  const label = el('span', { class: neighbor.label === predicted ? 'same' : 'other' }, [neighbor.label]);
  if (display.kind === 'text') {
    box.append(el('span', { class: 'reftext' }, [neighbor.text ?? '']));
  } else if (display.kind === 'image') {
    getJson<Reference>(`/v1/models/${encodeURIComponent(model)}/references/${neighbor.id}?version=${encodeURIComponent(version)}`)
      .then((ref) => box.prepend(picture(ref.values, display, 2)))
      .catch(() => box.prepend(el('span', { class: 'muted' }, ['(reloaded)'])));
  } else {
    box.append(el('span', { class: 'muted' }, [`#${neighbor.id}`]));
  }
  box.append(label);
  return box;
}

function entryCard(model: string, display: Display, e: FlaggedEntryView): HTMLElement {
  const left =
    display.kind === 'image'
      ? picture(e.input, display, 4)
      : display.kind === 'text'
        ? el('div', { class: 'text' }, [e.text ?? ''])
        : e.features
          ? featureTable(e.features)
          : el('span', {}, ['']);
  const pvalues = el('div', { class: 'pvalues' }, Object.keys(e.p_values).map((k) => el('span', {}, [`${k} ${e.p_values[k].toFixed(3)}`])));
  const layers = el(
    'div',
    { class: 'layers' },
    e.layers.map((l) =>
      el('div', { class: 'layer' }, [el('span', { class: 'name' }, [`${l.name} (${l.in_class_neighbors}/${l.k})`]), ...l.nearest.map((n) => reference(model, e.version, display, n, e.label))]),
    ),
  );
  const right = el('div', {}, [
    el('div', { class: 'head' }, [`label ${e.label}, outlier score ${e.outlier_score.toFixed(3)}`]),
    el('div', { class: 'muted' }, [`#${e.id} at ${e.time}, version ${e.version}`]),
    pvalues,
    layers,
  ]);
  return el('div', { class: 'entry', 'data-entry': e.id }, [left, right]);
}

function load(root: HTMLElement): void {
  getJson<{ models: string[] }>('/models')
    .then((list) => Promise.all(list.models.map((m) => getJson<Outliers>(`/v1/models/${encodeURIComponent(m)}/outliers`))))
    .then((sections) => {
      root.replaceChildren();
      for (const s of sections) {
        root.append(el('h2', {}, [`${s.model} (version ${s.version})`]));
        root.append(el('p', { class: 'muted' }, [`the newest ${s.entries.length} of the ${s.kept} flagged inputs kept (at most ${s.capacity})`]));
        for (const e of s.entries) root.append(entryCard(s.model, s.display, e));
      }
    })
    .catch((err: Error) => root.replaceChildren(el('p', {}, [`Could not load the flagged inputs: ${err.message}`])));
}

const root = document.getElementById('models');
if (root) {
  document.getElementById('refresh')?.addEventListener('click', () => load(root));
  load(root);
}
