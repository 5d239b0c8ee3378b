import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

/**
 * The direction imports run in (docs/architecture.md): each layer imports only from the layers
 * below it, and nothing that serves requests imports the offline research code.
 */
const SRC = resolve('src');

/** The layer of a file under src/: its top folder, or the file itself for top-level modules. */
const layerOf = (file: string) => relative(SRC, file).split('/')[0].replace(/\.ts$/, '');

const BELOW_DETECTOR = ['math', 'compute', 'neighbors', 'model', 'reference', 'errors', 'log', 'event-loop', 'atomic-write', 'worker-threads', 'service-version', 'settings'];
const RESEARCH = ['analysis', 'attack', 'baselines', 'evaluation', 'report'];
const COMPOSITION = ['cli', 'onboarding', 'config', 'detector-settings'];

/** What each layer must not import. */
const FORBIDDEN: Record<string, string[]> = {
  ...Object.fromEntries(BELOW_DETECTOR.map((layer) => [layer, ['detector', 'lifecycle', 'http', ...RESEARCH, ...COMPOSITION]])),
  detector: ['http', 'lifecycle', ...RESEARCH, ...COMPOSITION],
  // A model's lifecycle holds detectors; it serves HTTP, and never the other way round.
  lifecycle: ['http', ...RESEARCH, ...COMPOSITION],
  // The drift test is math over a stream of p-values: it knows no detector, only what they give.
  drift: ['detector', 'lifecycle', 'http', ...RESEARCH, ...COMPOSITION],
  http: ['cli', 'onboarding', 'detector-settings', ...RESEARCH],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports of a file, resolved to the .ts files they name. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g), ...text.matchAll(/import\(\s*'(\.[^']+)'\s*\)/g)].map((m) =>
    resolve(dirname(file), m[1].replace(/\.js$/, '.ts')),
  );
}

describe('the layers of src/', () => {
  const files = sourceFiles(SRC);

  it('finds the source files and their imports', () => {
    assert.ok(files.length > 100, `${files.length} files`);
    assert.ok(importsOf(join(SRC, 'http', 'app.ts')).some((f) => f.endsWith('plugins/scoring.ts')));
  });

  it('imports only downwards: nothing below the detector imports it, the detector never imports HTTP or the CLIs, and nothing serving requests imports research code', () => {
    const violations: string[] = [];
    for (const file of files) {
      const forbidden = FORBIDDEN[layerOf(file)] ?? [];
      for (const target of importsOf(file)) {
        if (!target.startsWith(SRC)) continue;
        const layer = layerOf(target);
        if (forbidden.includes(layer)) violations.push(`${relative(SRC, file)} imports ${relative(SRC, target)} (${layerOf(file)} -> ${layer})`);
      }
    }
    assert.deepEqual(violations, []);
  });

  it('reaches the model lifecycle only through its entry point, lifecycle/index.ts', () => {
    const entry = join(SRC, 'lifecycle', 'index.ts');
    const violations = files
      .filter((file) => layerOf(file) !== 'lifecycle')
      .flatMap((file) => importsOf(file).filter((target) => layerOf(target) === 'lifecycle' && target !== entry).map((target) => `${relative(SRC, file)} imports ${relative(SRC, target)}`));
    assert.deepEqual(violations, []);
  });

  it('catches an import against the direction', () => {
    const file = join(SRC, 'reference', 'example.ts');
    const target = resolve(dirname(file), '../detector/calibration.ts');
    assert.ok(FORBIDDEN[layerOf(file)].includes(layerOf(target)));
  });
});
