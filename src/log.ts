import pino, { type BaseLogger } from 'pino';

/** The logging surface library code needs; fastify's logger and a CLI's pino logger both fit. */
export type Log = Pick<BaseLogger, 'info' | 'warn' | 'error' | 'debug'>;

/**
 * The CLIs' logger: the same pino options as the server's, to stderr so stdout stays data.
 * Synchronous, because training and index builds block the event loop for minutes, and an
 * asynchronous destination would hold every progress line until the work is over.
 */
export function createCliLogger(level = process.env.LOG_LEVEL ?? 'info'): pino.Logger {
  return pino({ level }, pino.destination({ dest: 2, sync: true }));
}
