import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseEmbeddings, parseLabels } from '../analysis/embeddings-file.js';
import { entanglementByLayer, measureEntanglement, type TemperatureChoice } from '../analysis/entanglement.js';
import { seededSample } from '../analysis/sample.js';
import { isOodError, OodError } from '../errors.js';
import type { DistanceKind } from '../math/snnl.js';

const USAGE = `usage: npm run --silent ood -- entanglement --embeddings FILE --labels FILE [options]
       npm run --silent ood -- entanglement --model NAME [--data REFSET] [options]
Prints one JSON object on stdout: the soft nearest neighbour loss (docs/design.md §1).
  --embeddings FILE        a JSON array of equal-length number arrays, or CSV (a non-numeric first row is a header)
  --labels FILE            a JSON array of integer labels, one per embedding
  --model NAME             instead: SNNL of every layer in models/NAME/manifest.json
  --data NAME              reference set to embed (default: the model's own)
  --part train|calibration|test   which part of the reference set (default train)
  --limit N                seeded sample of at most N points (default 2000; SNNL costs O(N^2))
  --seed N                 seed of that sample (default 1)
  --temperature T|auto     a fixed temperature, or auto (default): the T that minimises SNNL
  --distance euclidean|cosine     squared Euclidean (default) or 1 - cosine
  --backend wasm|cpu|tensorflow   tfjs backend for --model
  --models-dir DIR --reference-sets-dir DIR   where --model and --data live (default models, reference-sets)
Exit code 2 on unusable input, with the reason on stderr.`;

const PARTS = ['train', 'calibration', 'test'] as const;
type Part = (typeof PARTS)[number];

interface FileSource {
  kind: 'files';
  embeddings: string;
  labels: string;
}

interface ModelSource {
  kind: 'model';
  model: string;
  data?: string;
  part: Part;
  limit: number;
  seed: number;
  backend?: string;
  modelsDir: string;
  referenceSetsDir: string;
}

interface Args {
  source: FileSource | ModelSource;
  temperature: TemperatureChoice;
  distance: DistanceKind;
}

/** Where the command's data and messages go; tests pass their own to run it in-process. */
export interface CommandOutput {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const PROCESS_OUTPUT: CommandOutput = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export async function entanglementCommand(argv: string[], output: CommandOutput = PROCESS_OUTPUT): Promise<number> {
  const fail = (message: string): number => {
    output.stderr(`entanglement: ${message}\n`);
    return 2;
  };
  let args: Args | 'help';
  try {
    args = parseCommandLine(argv);
  } catch (err) {
    return fail(err instanceof Error ? `${err.message} (--help for usage)` : String(err));
  }
  if (args === 'help') {
    output.stderr(`${USAGE}\n`);
    return 0;
  }
  try {
    const result =
      args.source.kind === 'model' ? await modelEntanglement(args, args.source) : await fileEntanglement(args, args.source);
    output.stdout(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (err) {
    // Every OodError here names an input the caller gave: a file, a model, a reference set.
    if (isOodError(err)) return fail(err.message);
    throw err;
  }
}

function parseCommandLine(argv: string[]): Args | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      embeddings: { type: 'string' }, labels: { type: 'string' }, model: { type: 'string' }, data: { type: 'string' },
      part: { type: 'string' }, limit: { type: 'string' }, seed: { type: 'string' }, temperature: { type: 'string' },
      distance: { type: 'string' }, backend: { type: 'string' }, 'models-dir': { type: 'string' },
      'reference-sets-dir': { type: 'string' }, help: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) return 'help';
  if (positionals.length > 0) throw usageError(`unexpected argument "${positionals[0]}"`);
  const fromFiles = values.embeddings !== undefined || values.labels !== undefined;
  if (fromFiles && values.model !== undefined) throw usageError('give either --embeddings/--labels or --model, not both');
  if (!fromFiles && values.model === undefined) throw usageError('give --embeddings FILE --labels FILE, or --model NAME');
  const temperature = temperatureChoice(values.temperature ?? 'auto');
  const distance = oneOf('--distance', values.distance ?? 'euclidean', ['euclidean', 'cosine'] as const);
  if (values.embeddings !== undefined && values.labels !== undefined) {
    for (const flag of ['data', 'part', 'limit', 'seed', 'backend', 'models-dir', 'reference-sets-dir'] as const) {
      if (values[flag] !== undefined) throw usageError(`--${flag} only applies with --model`);
    }
    return { source: { kind: 'files', embeddings: values.embeddings, labels: values.labels }, temperature, distance };
  }
  if (values.model === undefined) throw usageError('--embeddings and --labels go together');
  const source: ModelSource = {
    kind: 'model',
    model: values.model,
    data: values.data,
    part: oneOf('--part', values.part ?? 'train', PARTS),
    limit: integer('--limit', values.limit ?? '2000', 1),
    seed: integer('--seed', values.seed ?? '1', -(2 ** 31)),
    backend: values.backend,
    modelsDir: values['models-dir'] ?? 'models',
    referenceSetsDir: values['reference-sets-dir'] ?? 'reference-sets',
  };
  return { source, temperature, distance };
}

function usageError(message: string): OodError {
  return new OodError('BAD_REQUEST', message);
}

function oneOf<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw usageError(`${flag} must be one of ${choices.join(', ')}, got "${value}"`);
}

function integer(flag: string, value: string, min: number): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw usageError(`${flag} must be an integer >= ${min}, got "${value}"`);
  }
  return n;
}

function temperatureChoice(value: string): TemperatureChoice {
  if (value === 'auto') return 'auto';
  const t = Number(value);
  if (value.trim() === '' || !Number.isFinite(t) || t <= 0) {
    throw usageError(`--temperature must be a finite positive number or "auto", got "${value}"`);
  }
  return t;
}

async function readInput(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new OodError('DATA_INVALID', `cannot read ${flag} ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

async function fileEntanglement(args: Args, source: FileSource) {
  const [embeddingsText, labelsText] = await Promise.all([
    readInput(source.embeddings, '--embeddings'),
    readInput(source.labels, '--labels'),
  ]);
  const x = parseEmbeddings(embeddingsText, source.embeddings);
  const labels = parseLabels(labelsText, source.labels);
  const result = measureEntanglement(x, labels, { temperature: args.temperature, distance: args.distance });
  return {
    snnl: result.snnl,
    temperature: result.temperature,
    distance: result.distance,
    points: result.points,
    skipped_anchors: result.skippedAnchors,
  };
}

/** tfjs and the model code load only here, so the file mode starts in a fraction of a second. */
async function modelEntanglement(args: Args, source: ModelSource) {
  const [{ initBackend, parseBackend }, { loadStoredModel }, { TfjsEmbedder }, { loadReferenceSet }, { createCliLogger }] =
    await Promise.all([
      import('../model/backend.js'),
      import('../model/model-store.js'),
      import('../model/tfjs/tfjs-embedder.js'),
      import('../reference/load-reference-set.js'),
      import('../log.js'),
    ]);
  const log = createCliLogger();
  const backend = await initBackend(source.backend !== undefined ? parseBackendFlag(parseBackend, source.backend) : undefined);
  log.info({ backend: backend.backend }, 'tfjs backend ready');
  const stored = await loadStoredModel(source.modelsDir, source.model);
  const embedder = new TfjsEmbedder(stored.model, stored.manifest);
  try {
    const data = source.data ?? stored.manifest.reference_set;
    const refset = await loadReferenceSet(source.referenceSetsDir, data);
    const sample = seededSample(refset[source.part], source.limit, source.seed);
    const inputs = sample.x.data instanceof Float32Array ? sample.x.data : Float32Array.from(sample.x.data);
    const started = performance.now();
    const { activations } = embedder.embed(inputs, sample.x.rows);
    const layers = entanglementByLayer(
      stored.manifest.layers.map((layer, l) => ({ name: layer, x: activations[l] })),
      sample.labels,
      { temperature: args.temperature, distance: args.distance },
    );
    log.info({ points: sample.x.rows, seconds: +((performance.now() - started) / 1000).toFixed(2) }, 'entanglement measured');
    return { model: source.model, data, part: source.part, points: sample.x.rows, distance: args.distance, layers };
  } finally {
    embedder.dispose();
  }
}

function parseBackendFlag<T>(parse: (name: string) => T, name: string): T {
  try {
    return parse(name);
  } catch (err) {
    throw usageError((err as Error).message);
  }
}
