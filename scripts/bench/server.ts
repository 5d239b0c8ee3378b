import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { atExit } from './cleanup.js';
import { httpRequest } from './http.js';
import { progress } from './stats.js';

const HOST = '127.0.0.1';
const POLL_MS = 20;
const READY_TIMEOUT_MS = 10 * 60_000;
/** The server gives in-flight requests 10 s after SIGTERM; past that it is killed. */
const STOP_TIMEOUT_MS = 15_000;

/** A port the OS reports free on the loopback interface (there is a small race, as always). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface StartTimes {
  /** From spawn until the port accepts connections (/readyz answers anything). */
  listeningMs: number;
  /** From spawn until /readyz answers 200: model loaded, graphs and calibration ready. */
  readyMs: number;
}

export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  root: string;
  cacheDir: string;
  model: string;
  /** Extra environment for the server (e.g. OOD_MAX_EVENT_LOOP_DELAY_MS), over process.env. */
  env?: Record<string, string>;
  /** LOG_LEVEL of the server; warn unless given. */
  logLevel?: string;
  /** Log lines for which this returns true are not echoed to stderr (onLine still sees them). */
  quiet?: (line: string) => boolean;
}

export class ServerProcess {
  readonly baseUrl: string;
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;
  /** Resolves with the exit code and signal once the process has ended. */
  readonly exit: Promise<ServerExit>;
  private readonly lineListeners: ((line: string) => void)[] = [];
  private readonly quiet: (line: string) => boolean;
  /** undefined while running, then the exit code or the signal that ended it. */
  private exitStatus: string | undefined;
  private stopping = false;
  private readonly tail: string[] = [];
  private readonly releaseFinaliser: () => void;

  private constructor(child: ChildProcess, port: number, quiet: (line: string) => boolean) {
    this.child = child;
    this.quiet = quiet;
    this.baseUrl = `http://${HOST}:${port}`;
    this.exit = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitStatus = signal ? `signal ${signal}` : `code ${code}`;
        if (!this.stopping) progress(`server pid ${child.pid} exited unexpectedly (${this.exitStatus})`);
        resolve({ code, signal });
      });
    });
    this.exited = this.exit.then(({ code }) => code);
    // Logs (pino writes to stdout) go to stderr so they never mix with the report. The warnings
    // for the /readyz polls refused during start-up would only drown the rest, so they are dropped.
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (text: string) => {
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) this.echo(line);
      });
      stream?.on('end', () => this.echo(partial));
    }
    this.releaseFinaliser = atExit(() => {
      if (this.running) child.kill('SIGKILL');
    });
  }

  private echo(line: string): void {
    if (line.trim() === '') return;
    for (const listener of this.lineListeners) listener(line);
    if (line.includes('"code":"NOT_READY"') || this.quiet(line)) return;
    process.stderr.write(`[server] ${line}\n`);
    this.tail.push(line);
    if (this.tail.length > 20) this.tail.shift();
  }

  /** The server's own pid: node runs src/cli/ood.ts directly (tsx is loaded with --import). */
  get pid(): number {
    if (this.child.pid === undefined) throw new Error('server process has no pid');
    return this.child.pid;
  }

  /** Calls fn with every log line the server prints from now on (stdout and stderr). */
  onLine(fn: (line: string) => void): void {
    this.lineListeners.push(fn);
  }

  /** Sends a signal without waiting; an exit that follows is expected, not reported as a crash. */
  signal(signal: NodeJS.Signals): void {
    this.stopping = true;
    this.child.kill(signal);
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  /** Throws if the server has died since it became ready, so a crash cannot pass for a result. */
  assertAlive(during: string): void {
    if (!this.running) {
      throw new Error(`server exited (${this.exitStatus}) during ${during}; last output:\n${this.tail.join('\n')}`);
    }
  }

  /** `node --import tsx src/cli/ood.ts serve` on a free loopback port, then waits for /readyz 200. */
  static async start(opts: StartOptions): Promise<{ server: ServerProcess; times: StartTimes }> {
    const port = await freePort();
    // Other OOD_* settings pass through from the environment, as they would for `npm start`.
    const env = {
      ...process.env,
      PORT: String(port),
      // gRPC is off unless a caller gives it a port: servers started side by side would share 8081.
      OOD_GRPC_PORT: '0',
      // So is tracing, whatever the shell has set: a benchmark's servers run as configured here.
      OTEL_TRACES_EXPORTER: 'none',
      HOST,
      OOD_MODEL: opts.model,
      OOD_CACHE_DIR: opts.cacheDir,
      LOG_LEVEL: opts.logLevel ?? 'warn',
      ...opts.env,
    };
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/ood.ts', 'serve'], {
      cwd: opts.root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = new ServerProcess(child, port, opts.quiet ?? (() => false));
    try {
      const times = await server.waitReady(started);
      return { server, times };
    } catch (err) {
      await server.stop();
      throw err;
    }
  }

  private async waitReady(started: number): Promise<StartTimes> {
    let listeningMs = Number.NaN;
    const deadline = started + READY_TIMEOUT_MS;
    while (performance.now() < deadline) {
      if (!this.running) {
        throw new Error(`server exited (${this.exitStatus}) before it was ready; last output:\n${this.tail.join('\n')}`);
      }
      const status = await httpRequest(`${this.baseUrl}/readyz`, { timeoutMs: 5_000 }).then(
        (res) => res.status,
        () => 0,
      );
      const now = performance.now();
      if (status !== 0 && Number.isNaN(listeningMs)) listeningMs = now - started;
      if (status === 200) return { listeningMs, readyMs: now - started };
      await sleep(POLL_MS);
    }
    throw new Error(`server not ready after ${READY_TIMEOUT_MS / 1000} s`);
  }

  /** SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT_MS. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.running) {
      this.child.kill('SIGTERM');
      // Cancelled once the race is decided, so a stopped server does not hold the bench open.
      const cancel = new AbortController();
      const timer = sleep(STOP_TIMEOUT_MS, 'timeout' as const, { signal: cancel.signal }).catch(() => 'cancelled' as const);
      const outcome = await Promise.race([this.exited, timer]);
      cancel.abort();
      if (outcome === 'timeout' && this.running) {
        progress(`server pid ${this.child.pid} ignored SIGTERM for ${STOP_TIMEOUT_MS / 1000} s; killing it`);
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    this.releaseFinaliser();
  }
}
