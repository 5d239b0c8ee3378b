import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';

/**
 * The review page: static HTML, and a script (browser/review.ts) that reads the JSON routes and
 * draws the flagged inputs with their nearest training examples. Both are served from this
 * process, so the page loads nothing from another host.
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

let compiled: string | undefined;

/**
 * The page's script, compiled from browser/review.ts on first use: esbuild strips the types and
 * wraps it in one IIFE. Nothing is bundled, so an import of anything but types fails here, where
 * a test sees it, rather than in a browser. Run from dist/ (the image) only tsc's review.js is
 * beside this module, so that is what is wrapped there.
 */
export function reviewScript(): string {
  if (compiled === undefined) {
    const source = ['ts', 'js'].map((ext) => new URL(`./browser/review.${ext}`, import.meta.url)).find((url) => existsSync(url));
    if (!source) throw new Error(`the review page's script is missing beside ${fileURLToPath(import.meta.url)}`);
    const loader = source.pathname.endsWith('.ts') ? 'ts' : 'js';
    compiled = transformSync(readFileSync(source, 'utf8'), { loader, format: 'iife', target: 'es2020', sourcefile: `review.${loader}` }).code;
  }
  return compiled;
}
