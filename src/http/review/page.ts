/**
 * The review page: static HTML and a script that reads the JSON routes and draws the flagged
 * inputs with their nearest training examples. Kept as strings in the build, so the page needs
 * no file beside the compiled code and loads nothing from another host. (The script is plain
 * browser JavaScript; it must not use backticks or template placeholders.)
 */
export const REVIEW_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ood-service: flagged inputs</title>
<link rel="icon" href="data:,">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0 1.5rem 2rem; color: #1d2330; background: #f6f7f9; }
  h1 { font-size: 1.4rem; margin: 1.2rem 0 0.2rem; }
  h2 { font-size: 1.15rem; margin: 1.6rem 0 0.4rem; }
  .muted { color: #667; }
  .entry { background: #fff; border: 1px solid #d8dbe2; border-radius: 6px; padding: 0.8rem 1rem; margin: 0.8rem 0; display: grid; grid-template-columns: auto 1fr; gap: 1rem; }
  .entry .head { font-weight: 600; }
  canvas { image-rendering: pixelated; border: 1px solid #ccd; background: #000; }
  .layers { display: grid; gap: 0.3rem; }
  .layer { display: flex; align-items: center; gap: 0.5rem; flex-wrap: wrap; }
  .layer .name { width: 9rem; font-family: ui-monospace, monospace; font-size: 12px; }
  .ref { display: inline-flex; flex-direction: column; align-items: center; font-size: 11px; }
  .ref .same { color: #16794a; } .ref .other { color: #b3261e; }
  table { border-collapse: collapse; font-size: 12px; }
  td, th { padding: 1px 8px; text-align: right; border-bottom: 1px solid #eee; }
  tr.marked td { background: #ffe8cc; font-weight: 600; }
  .text { max-width: 22rem; font-size: 15px; }
  .reftext { font-style: italic; margin-right: 0.3rem; }
  .pvalues span { margin-right: 0.8rem; font-family: ui-monospace, monospace; font-size: 12px; }
</style>
</head>
<body>
<h1>Flagged inputs</h1>
<p class="muted">The last inputs each model flagged as out of distribution, newest first, with their nearest training examples in every indexed layer: the evidence behind the score. <button id="refresh" type="button">Refresh</button></p>
<div id="models"><p class="muted">Loading...</p></div>
<script src="/review/review.js"></script>
</body>
</html>
`;

export const REVIEW_JS = String.raw`'use strict';
(function () {
  var root = document.getElementById('models');

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) { node.append(c instanceof Node ? c : document.createTextNode(String(c))); });
    return node;
  }

  function getJson(path) {
    return fetch(path, { credentials: 'same-origin' }).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) throw new Error(path + ': ' + (typeof body.error === 'string' ? body.error : body.error && body.error.message));
        return body;
      });
    });
  }

  // Min-max scaled to grey levels (or colours), whatever the model's own input scale.
  function picture(values, display, scale) {
    var w = display.width, h = display.height, c = display.channels;
    var canvas = el('canvas', { width: w, height: h });
    canvas.style.width = (w * scale) + 'px';
    canvas.style.height = (h * scale) + 'px';
    var lo = Infinity, hi = -Infinity;
    for (var i = 0; i < values.length; i++) { if (values[i] < lo) lo = values[i]; if (values[i] > hi) hi = values[i]; }
    var span = hi > lo ? hi - lo : 1;
    var ctx = canvas.getContext('2d');
    var img = ctx.createImageData(w, h);
    for (var p = 0; p < w * h; p++) {
      for (var ch = 0; ch < 3; ch++) {
        var k = c === 1 ? 0 : ch;
        var v = display.layout === 'nhwc' ? values[p * c + k] : values[k * w * h + p];
        img.data[p * 4 + ch] = Math.round(255 * (v - lo) / span);
      }
      img.data[p * 4 + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    return canvas;
  }

  function featureTable(features) {
    var rows = features.filter(function (f) { return f.marked; }).concat(features.filter(function (f) { return !f.marked; }).slice(0, 7));
    var table = el('table', {}, [el('tr', {}, [el('th', {}, ['feature']), el('th', {}, ['value']), el('th', {}, ['nearest examples']), el('th', {}, ['deviation'])])]);
    rows.forEach(function (f) {
      table.append(el('tr', f.marked ? { class: 'marked' } : {}, [
        el('td', {}, [f.index]), el('td', {}, [f.value.toPrecision(4)]), el('td', {}, [f.neighbor_mean.toPrecision(4)]), el('td', {}, [f.deviation.toFixed(2)])
      ]));
    });
    return table;
  }

  function reference(model, version, display, neighbor, predicted) {
    var box = el('span', { class: 'ref' });
    var label = el('span', { class: neighbor.label === predicted ? 'same' : 'other' }, [neighbor.label]);
    if (display.kind === 'text') {
      box.append(el('span', { class: 'reftext' }, [neighbor.text || '']));
    } else if (display.kind === 'image') {
      getJson('/v1/models/' + encodeURIComponent(model) + '/references/' + neighbor.id + '?version=' + encodeURIComponent(version))
        .then(function (ref) { box.prepend(picture(ref.values, display, 2)); })
        .catch(function () { box.prepend(el('span', { class: 'muted' }, ['(reloaded)'])); });
    } else {
      box.append(el('span', { class: 'muted' }, ['#' + neighbor.id]));
    }
    box.append(label);
    return box;
  }

  function entryCard(model, display, e) {
    var left = display.kind === 'image' ? picture(e.input, display, 4)
      : display.kind === 'text' ? el('div', { class: 'text' }, [e.text || ''])
      : (e.features ? featureTable(e.features) : el('span', {}, ['']));
    var pvalues = el('div', { class: 'pvalues' }, Object.keys(e.p_values).map(function (k) { return el('span', {}, [k + ' ' + e.p_values[k].toFixed(3)]); }));
    var layers = el('div', { class: 'layers' }, e.layers.map(function (l) {
      return el('div', { class: 'layer' }, [el('span', { class: 'name' }, [l.name + ' (' + l.in_class_neighbors + '/' + l.k + ')'])].concat(
        l.nearest.map(function (n) { return reference(model, e.version, display, n, e.label); })));
    }));
    var right = el('div', {}, [
      el('div', { class: 'head' }, ['label ' + e.label + ', outlier score ' + e.outlier_score.toFixed(3)]),
      el('div', { class: 'muted' }, ['#' + e.id + ' at ' + e.time + ', version ' + e.version]),
      pvalues,
      layers
    ]);
    return el('div', { class: 'entry', 'data-entry': e.id }, [left, right]);
  }

  function load() {
    getJson('/models').then(function (list) {
      return Promise.all(list.models.map(function (m) { return getJson('/v1/models/' + encodeURIComponent(m) + '/outliers'); }));
    }).then(function (sections) {
      root.replaceChildren();
      sections.forEach(function (s) {
        root.append(el('h2', {}, [s.model + ' (version ' + s.version + ')']));
        root.append(el('p', { class: 'muted' }, ['the newest ' + s.entries.length + ' of the ' + s.kept + ' flagged inputs kept (at most ' + s.capacity + ')']));
        s.entries.forEach(function (e) { root.append(entryCard(s.model, s.display, e)); });
      });
    }).catch(function (err) {
      root.replaceChildren(el('p', {}, ['Could not load the flagged inputs: ' + err.message]));
    });
  }

  document.getElementById('refresh').addEventListener('click', load);
  load();
})();
`;
