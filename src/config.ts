import { z } from 'zod';
import { BACKENDS } from './model/backend-names.js';
import { NAME_PATTERN } from './model/manifest.js';
import { OodError } from './errors.js';
import { DETECTOR_SETTINGS } from './detector/settings.js';
import { envAt, flattenSettings, integerSetting as integer, probabilitySetting as probability, rawValues, schemaOf, setting, type SettingsTree } from './settings.js';

/**
 * Server settings, read from the environment only (per-model settings live in each model's
 * manifest). Parsing is pure so the CLI, the server and the tests share one definition.
 */

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
  grpcPort: setting(
    'OOD_GRPC_PORT',
    integer(0, 65535).default(8081),
    'the port of the Open Inference Protocol over gRPC (`inference.GRPCInferenceService`, and `grpc.health.v1.Health` for probes); 0 turns gRPC off',
  ),
  grpcHost: setting('OOD_GRPC_HOST', z.string().min(1).optional(), 'the address gRPC listens on: `127.0.0.1` keeps it inside the pod (as the Seldon example does)', '`HOST`'),
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
  modelRepository: setting(
    'OOD_MODEL_REPOSITORY',
    z.string().min(1).optional(),
    'a model repository: the server starts with no model, and the Open Inference Protocol\'s gRPC `RepositoryModelLoad` serves the bundle `<folder>/<name>/<version>/` under `<name>` (as Seldon Core v2\'s agent asks), `RepositoryModelUnload` stops it ([docs/grpc.md](docs/grpc.md#a-model-repository)). Not with `OOD_MODEL` or `OOD_MODELS`',
    '(none)',
  ),
  repositoryTrustLoopback: setting(
    'OOD_REPOSITORY_TRUST_LOOPBACK',
    z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
    'take repository loads and unloads (gRPC and REST) without a token from `127.0.0.1` or `::1`, for a model server agent beside the service in its pod that sends none (Seldon Core v2). Not where a proxy in the pod or on the host passes outside calls on from loopback (Linkerd, oauth2-proxy, kube-rbac-proxy): everyone behind it would be trusted. Pair it with `OOD_GRPC_HOST=127.0.0.1`',
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
  // k, significance, threads, folders: the detector declares its own, beside the code that uses them.
  ...DETECTOR_SETTINGS,
  maxBatch: setting('OOD_MAX_BATCH', integer(1).default(256), 'instances per request'),
  bodyLimitBytes: setting('OOD_BODY_LIMIT_BYTES', integer(1).default(8 * 1024 * 1024), 'request body limit', '8 MiB'),
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
    // A repository's models are loaded by name later, never at start.
    models: values.modelRepository === undefined ? (modelList ?? [defaultModel]) : [],
  }))
  .superRefine((c, ctx) => {
    if (c.metricsPort !== undefined && c.metricsPort !== 0 && c.metricsPort === c.port) {
      ctx.addIssue({ code: 'custom', message: `OOD_METRICS_PORT (${c.metricsPort}) must differ from PORT`, path: [] });
    }
    if (c.grpcPort !== 0 && (c.grpcPort === c.port || c.grpcPort === c.metricsPort)) {
      ctx.addIssue({ code: 'custom', message: `OOD_GRPC_PORT (${c.grpcPort}) must differ from PORT and OOD_METRICS_PORT`, path: [] });
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
  // Checked on the environment itself, since OOD_MODEL's default cannot be told from its value.
  const named = ['OOD_MODEL', 'OOD_MODELS'].filter((name) => env[name] !== undefined && env[name] !== '');
  if (env.OOD_MODEL_REPOSITORY && named.length > 0) {
    throw new OodError(
      'CONFIG_INVALID',
      `Invalid configuration: OOD_MODEL_REPOSITORY starts the server with no model and loads each by name through the repository API, while ${named.join(' and ')} names models to serve from OOD_MODELS_DIR at start: set one or the other`,
    );
  }
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
