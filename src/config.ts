import { z } from 'zod';
import { BACKENDS } from './model/backend-names.js';
import { NAME_PATTERN } from './model/manifest.js';
import { NeighborEngineSchema } from './neighbors/graph-engine.js';
import { OodError } from './errors.js';
import { envAt, flattenSettings, rawValues, schemaOf, setting, type SettingsTree } from './settings.js';

/**
 * Server settings, read from the environment only (per-model settings live in each model's
 * manifest). Parsing is pure so the CLI, the server and the tests share one definition.
 */

// Strict digits, because Number() would also accept '0x10', '1e3' and ' 12 ' from a typo'd env.
const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const probability = z
  .string()
  .regex(/^(\d+\.?\d*|\.\d+)(e-?\d+)?$/i, 'must be a decimal number')
  .transform(Number)
  .pipe(z.number().gt(0, 'must be greater than 0').lt(1, 'must be less than 1'));


/** Tokens are separated by commas or new lines; blanks and surrounding spaces are dropped. */
export function parseTokens(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const modelName = z.string().regex(NAME_PATTERN, `must match ${NAME_PATTERN}`);

/**
 * Every setting the service reads from the environment, each with its meaning, once. The
 * configuration's type is what these parse to (plus `model` and `models`, derived below), and the
 * README's settings table is written from them by `npm run gen:docs`.
 */
export const SETTINGS = {
  port: setting('PORT', integer(0, 65535).default(8080), 'the port to listen on'),
  host: setting('HOST', z.string().default('0.0.0.0'), 'the address to listen on'),
  defaultModel: setting('OOD_MODEL', modelName.default('mnist'), 'folder under `models/`'),
  modelList: setting(
    'OOD_MODELS',
    z
      .string()
      .transform((text) => text.split(',').map((name) => name.trim()))
      .pipe(z.array(z.string().regex(NAME_PATTERN, `each name must match ${NAME_PATTERN}`)).refine((names) => new Set(names).size === names.length, 'names a model twice'))
      .optional(),
    'several models in one process, comma-separated (`mnist,fashion-mnist`); the first is the default model and answers `/predict`. Each has its own detector, cache entry, reload and `model` label on the metrics; it wins over `OOD_MODEL`',
  ),
  driftDelta: setting(
    'OOD_DRIFT_DELTA',
    probability.default(0.01),
    "the drift alarm's bound: on in-distribution traffic, a model's drift alarm ever fires with probability at most this ([docs/design.md §4](docs/design.md#4-drift-alarms-conformal-test-martingales))",
  ),
  reviewSize: setting(
    'OOD_REVIEW_SIZE',
    integer(0, 10_000).default(0),
    'flagged inputs kept in memory per model for `GET /review` (0: the review is off). While on, the reference inputs stay in memory too (22 MB for mnist, 172 MB for fashion-mnist)',
  ),
  k: setting('OOD_K', integer(1).default(75), "neighbours per layer (a model manifest's own `k`, set by `add-model --k`, wins)"),
  significance: setting('OOD_SIGNIFICANCE', probability.default(0.05), 'flag when the combined p-value is at most this'),
  labelWeight: setting(
    'OOD_LABEL_WEIGHT',
    probability.default(0.1),
    'share of the significance spent on label disagreement (the rest is split between distance and density)',
  ),
  maxBatch: setting('OOD_MAX_BATCH', integer(1).default(256), 'instances per request'),
  bodyLimitBytes: setting('OOD_BODY_LIMIT_BYTES', integer(1).default(8 * 1024 * 1024), 'request body limit', '8 MiB'),
  efSearch: setting(
    'OOD_HNSW_EF_SEARCH',
    integer(1).default(100),
    "HNSW search breadth (raised to k when smaller; a model manifest's `ef_search` for a layer wins)",
  ),
  neighbors: setting(
    'OOD_NEIGHBORS',
    NeighborEngineSchema.default('usearch'),
    'The library that holds the HNSW graphs: `usearch` (stores f16 where recall holds, builds on every core, memory-maps one copy for every scoring thread) or `hnswlib` (the optional `hnswlib-node`, f32, which compiles at install and needs python3, make and g++)',
  ),
  batching: {
    maxRows: setting(
      'OOD_BATCH_MAX_ROWS',
      integer(1).default(64),
      'dynamic batching: concurrent inference requests, whatever their protocol, are scored together in one pass, up to this many rows (a larger request goes alone)',
    ),
    maxDelayMs: setting(
      'OOD_BATCH_DELAY_MS',
      integer(0).default(0),
      'how long a lone request may wait for others to batch with; 0 adds no delay (requests that arrive while a batch is scored form the next one)',
    ),
  },
  buildThreads: setting(
    'OOD_BUILD_THREADS',
    integer(1, 256).optional(),
    'threads a cold build uses: with usearch, the native threads each graph is inserted on, one graph at a time; with hnswlib, how many graphs build side by side. Inserts racing on several threads give a slightly different graph each build; 1 gives the same graph every time, more slowly',
    'one per core (on one core: the main thread)',
  ),
  scoringThreads: setting(
    'OOD_SCORING_THREADS',
    integer(0, 256).optional(),
    'worker threads for the neighbour searches and density scores. With usearch they all memory-map one copy of the graphs; with hnswlib each holds its own, so memory grows with the count. 0 scores on the main thread',
    'one per core (0 on one core)',
  ),
  modelsDir: setting('OOD_MODELS_DIR', z.string().default('models'), 'the folder the models are in'),
  referenceSetsDir: setting('OOD_REFERENCE_SETS_DIR', z.string().default('reference-sets'), 'the folder the reference sets are in'),
  cacheDir: setting('OOD_CACHE_DIR', z.string().default('.cache'), 'graphs and calibration'),
  backend: setting('OOD_BACKEND', z.enum(BACKENDS).optional(), '`tensorflow` (needs `@tensorflow/tfjs-node`), `wasm` or `cpu`', 'best available'),
  loadShedding: {
    maxEventLoopDelayMs: setting(
      'OOD_MAX_EVENT_LOOP_DELAY_MS',
      integer(0).default(1000),
      'past this event-loop lag the inference routes (`POST /predict`, v2 `infer`, TF Serving `:predict`) answer a quick 503 `OVERLOADED` with `Retry-After` (0: off); the probes and /metrics keep answering',
    ),
    maxHeapUsedBytes: setting('OOD_MAX_HEAP_USED_BYTES', integer(0).default(0), 'the same, for heap in use', '0 (off)'),
    retryAfterSeconds: setting('OOD_RETRY_AFTER_SECONDS', integer(1).default(1), 'the Retry-After value'),
  },
  apiTokens: setting(
    'OOD_API_TOKENS',
    z.string().default('').transform(parseTokens),
    'comma-separated bearer tokens; when set, the inference routes (`POST /predict`, v2 `infer`, TF Serving `:predict`), the review routes and `/admin/*` need `Authorization: Bearer <token>` (401 otherwise; the review page also takes the token as the password a browser asks for); without tokens `/admin/*` answers 403',
    '(none)',
  ),
  apiTokensFile: setting('OOD_API_TOKENS_FILE', z.string().optional(), 'a file of more tokens, one per line or comma-separated', '(none)'),
  metricsPort: setting('OOD_METRICS_PORT', integer(0, 65535).optional(), 'serve `/metrics` on this port only, instead of on `PORT`'),
  drainDelayMs: setting(
    'OOD_DRAIN_DELAY_MS',
    integer(0).default(500),
    'after SIGTERM, how long `/readyz` says 503 while requests are still served, before the listener closes',
  ),
  shutdownTimeoutMs: setting(
    'OOD_SHUTDOWN_TIMEOUT_MS',
    integer(1).default(10_000),
    'after SIGTERM, the bound on finishing accepted requests; past it the process exits 1',
  ),
  logLevel: setting('LOG_LEVEL', z.enum(LOG_LEVELS).default('info'), 'pino level'),
} satisfies SettingsTree;

/** Every environment variable the service reads. */
export const ENV_NAMES = flattenSettings(SETTINGS).map(({ setting: s }) => s.env);

/** What the settings parse to, plus the models to serve, which two of them decide together. */
const ConfigSchema = schemaOf(SETTINGS)
  .transform(({ defaultModel, modelList, ...values }) => ({
    // Unset optional settings are left out rather than kept as undefined.
    ...(Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as typeof values),
    // OOD_MODELS wins over OOD_MODEL: its first name is the default model, which also answers POST /predict.
    model: modelList?.[0] ?? defaultModel,
    models: modelList ?? [defaultModel],
  }))
  .superRefine((c, ctx) => {
    if (c.metricsPort !== undefined && c.metricsPort !== 0 && c.metricsPort === c.port) {
      ctx.addIssue({ code: 'custom', message: `OOD_METRICS_PORT (${c.metricsPort}) must differ from PORT`, path: [] });
    }
    if (c.drainDelayMs >= c.shutdownTimeoutMs) {
      ctx.addIssue({
        code: 'custom',
        message: `OOD_DRAIN_DELAY_MS (${c.drainDelayMs}) must be below OOD_SHUTDOWN_TIMEOUT_MS (${c.shutdownTimeoutMs}), or every shutdown is killed`,
        path: [],
      });
    }
  });

export type Config = z.output<typeof ConfigSchema>;

export function loadConfig(env: Record<string, string | undefined>): Config {
  const raw = rawValues(SETTINGS, env);
  const parsed = ConfigSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const name = envAt(SETTINGS, issue.path);
    // A problem across settings names them in its message; one setting's is shown with its value.
    return name === undefined ? issue.message : `${name}=${JSON.stringify(env[name])}: ${issue.message}`;
  });
  throw new OodError('CONFIG_INVALID', `Invalid configuration: ${problems.join('; ')}`, { cause: parsed.error });
}
