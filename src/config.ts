import { z } from 'zod';
import { BACKENDS, type BackendName } from './model/backend-names.js';
import { NAME_PATTERN } from './model/manifest.js';
import { NeighborEngineSchema, type NeighborEngine } from './neighbors/graph-engine.js';
import { OodError } from './errors.js';

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

const EnvSchema = z.object({
  PORT: integer(0, 65535).default(8080),
  HOST: z.string().default('0.0.0.0'),
  OOD_MODEL: z
    .string()
    .regex(NAME_PATTERN, `must match ${NAME_PATTERN}`)
    .default('mnist'),
  OOD_MODELS: z
    .string()
    .transform((text) => text.split(',').map((name) => name.trim()))
    .pipe(
      z
        .array(z.string().regex(NAME_PATTERN, `each name must match ${NAME_PATTERN}`))
        .refine((names) => new Set(names).size === names.length, 'names a model twice'),
    )
    .optional(),
  OOD_MODELS_DIR: z.string().default('models'),
  OOD_REFERENCE_SETS_DIR: z.string().default('reference-sets'),
  OOD_CACHE_DIR: z.string().default('.cache'),
  OOD_K: integer(1).default(75),
  OOD_SIGNIFICANCE: probability.default(0.05),
  OOD_MAX_BATCH: integer(1).default(256),
  OOD_BODY_LIMIT_BYTES: integer(1).default(8 * 1024 * 1024),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  OOD_BACKEND: z.enum(BACKENDS).optional(),
  OOD_LABEL_WEIGHT: probability.default(0.1),
  OOD_HNSW_EF_SEARCH: integer(1).default(100),
  OOD_NEIGHBORS: NeighborEngineSchema.default('usearch'),
  OOD_BATCH_MAX_ROWS: integer(1).default(64),
  OOD_BATCH_DELAY_MS: integer(0).default(0),
  OOD_SCORING_THREADS: integer(0, 256).optional(),
  OOD_BUILD_THREADS: integer(1, 256).optional(),
  OOD_MAX_EVENT_LOOP_DELAY_MS: integer(0).default(1000),
  OOD_MAX_HEAP_USED_BYTES: integer(0).default(0),
  OOD_RETRY_AFTER_SECONDS: integer(1).default(1),
  OOD_API_TOKENS: z.string().optional(),
  OOD_API_TOKENS_FILE: z.string().optional(),
  OOD_METRICS_PORT: integer(0, 65535).optional(),
  OOD_SHUTDOWN_TIMEOUT_MS: integer(1).default(10_000),
  OOD_DRAIN_DELAY_MS: integer(0).default(500),
  OOD_REVIEW_SIZE: integer(0, 10_000).default(0),
  OOD_DRIFT_DELTA: probability.default(0.01),
});

type EnvName = keyof typeof EnvSchema.shape;
/** Every environment variable the service reads. */
export const ENV_NAMES = Object.keys(EnvSchema.shape) as EnvName[];

export interface Config {
  port: number;
  host: string;
  /** The default model: the first of `models`. It also answers POST /predict. */
  model: string;
  /** Every model served (OOD_MODELS, or OOD_MODEL alone), the default first. */
  models: string[];
  modelsDir: string;
  referenceSetsDir: string;
  cacheDir: string;
  k: number;
  significance: number;
  maxBatch: number;
  bodyLimitBytes: number;
  logLevel: (typeof LOG_LEVELS)[number];
  /** Unset means: pick the best backend available at start-up. */
  backend?: BackendName;
  /** Share of the significance spent on label disagreement; distance and density split the rest. */
  labelWeight: number;
  efSearch: number;
  /** The library that holds the HNSW graphs: usearch, or hnswlib (an optional dependency). */
  neighbors: NeighborEngine;
  /** Dynamic batching of concurrent /predict requests (OOD_BATCH_MAX_ROWS, OOD_BATCH_DELAY_MS). */
  batching: { maxRows: number; maxDelayMs: number };
  /** Worker threads for searches and density scores; unset: one per core when there are several. */
  scoringThreads?: number;
  /**
   * Native threads a cold build inserts into the graphs with; unset: one per core. Inserts on
   * several threads race, so only a build on one thread gives the same graph every time.
   */
  buildThreads?: number;
  /** Shed /predict with 503 past these bounds (0 turns a bound off). */
  loadShedding: { maxEventLoopDelayMs: number; maxHeapUsedBytes: number; retryAfterSeconds: number };
  /** Bearer tokens from OOD_API_TOKENS (comma-separated); empty means no authentication. */
  apiTokens: string[];
  /** A file of more tokens, read at start-up by the server (this function does no I/O). */
  apiTokensFile?: string;
  /** Serve /metrics on this port only, instead of on the API port. */
  metricsPort?: number;
  /** After SIGTERM, how long in-flight requests get before the process exits 1 anyway. */
  shutdownTimeoutMs: number;
  /** After SIGTERM, how long to keep serving with /readyz at 503 before the listener closes. */
  drainDelayMs: number;
  /** Flagged inputs kept per model for GET /review; 0 turns the review off. */
  reviewSize: number;
  /** The drift alarm's bound: on in-distribution traffic it fires, ever, with probability at most this. */
  driftDelta: number;
}

export function loadConfig(env: Record<string, string | undefined>): Config {
  // Only our variables, and an empty value counts as unset, as `FOO= cmd` means in a shell.
  const known: Partial<Record<EnvName, string>> = {};
  for (const name of ENV_NAMES) {
    const value = env[name];
    if (value !== undefined && value !== '') known[name] = value;
  }

  const parsed = EnvSchema.safeParse(known);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      return `${name}=${JSON.stringify(known[name as EnvName])}: ${issue.message}`;
    });
    throw new OodError('CONFIG_INVALID', `Invalid configuration: ${problems.join('; ')}`, {
      cause: parsed.error,
    });
  }

  const e = parsed.data;
  if (e.OOD_METRICS_PORT !== undefined && e.OOD_METRICS_PORT !== 0 && e.OOD_METRICS_PORT === e.PORT) {
    throw new OodError('CONFIG_INVALID', `Invalid configuration: OOD_METRICS_PORT (${e.OOD_METRICS_PORT}) must differ from PORT`);
  }
  if (e.OOD_DRAIN_DELAY_MS >= e.OOD_SHUTDOWN_TIMEOUT_MS) {
    throw new OodError(
      'CONFIG_INVALID',
      `Invalid configuration: OOD_DRAIN_DELAY_MS (${e.OOD_DRAIN_DELAY_MS}) must be below OOD_SHUTDOWN_TIMEOUT_MS (${e.OOD_SHUTDOWN_TIMEOUT_MS}), or every shutdown is killed`,
    );
  }
  return {
    port: e.PORT,
    host: e.HOST,
    // OOD_MODELS wins over OOD_MODEL: its first name is the default model.
    model: e.OOD_MODELS?.[0] ?? e.OOD_MODEL,
    models: e.OOD_MODELS ?? [e.OOD_MODEL],
    modelsDir: e.OOD_MODELS_DIR,
    referenceSetsDir: e.OOD_REFERENCE_SETS_DIR,
    cacheDir: e.OOD_CACHE_DIR,
    k: e.OOD_K,
    significance: e.OOD_SIGNIFICANCE,
    maxBatch: e.OOD_MAX_BATCH,
    bodyLimitBytes: e.OOD_BODY_LIMIT_BYTES,
    logLevel: e.LOG_LEVEL,
    labelWeight: e.OOD_LABEL_WEIGHT,
    efSearch: e.OOD_HNSW_EF_SEARCH,
    neighbors: e.OOD_NEIGHBORS,
    batching: { maxRows: e.OOD_BATCH_MAX_ROWS, maxDelayMs: e.OOD_BATCH_DELAY_MS },
    ...(e.OOD_SCORING_THREADS !== undefined ? { scoringThreads: e.OOD_SCORING_THREADS } : {}),
    ...(e.OOD_BUILD_THREADS !== undefined ? { buildThreads: e.OOD_BUILD_THREADS } : {}),
    loadShedding: {
      maxEventLoopDelayMs: e.OOD_MAX_EVENT_LOOP_DELAY_MS,
      maxHeapUsedBytes: e.OOD_MAX_HEAP_USED_BYTES,
      retryAfterSeconds: e.OOD_RETRY_AFTER_SECONDS,
    },
    apiTokens: parseTokens(e.OOD_API_TOKENS ?? ''),
    shutdownTimeoutMs: e.OOD_SHUTDOWN_TIMEOUT_MS,
    drainDelayMs: e.OOD_DRAIN_DELAY_MS,
    reviewSize: e.OOD_REVIEW_SIZE,
    driftDelta: e.OOD_DRIFT_DELTA,
    ...(e.OOD_METRICS_PORT === undefined ? {} : { metricsPort: e.OOD_METRICS_PORT }),
    ...(e.OOD_API_TOKENS_FILE === undefined ? {} : { apiTokensFile: e.OOD_API_TOKENS_FILE }),
    ...(e.OOD_BACKEND === undefined ? {} : { backend: e.OOD_BACKEND }),
  };
}
