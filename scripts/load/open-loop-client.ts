import http from 'node:http';

/**
 * What happened to one request, as far as the client can see. autocannon counts every socket
 * failure as one "error", so it cannot tell a connection the server refused (never accepted)
 * from a request that was written on an established connection and then lost; this client
 * records each step.
 */
export interface RequestRecord {
  /** ms (performance.now) when the request was issued. */
  issuedAt: number;
  /** The agent gave it a socket. */
  socket: boolean;
  /** That socket was connected: a reused keep-alive socket, or a new one whose 'connect' fired. */
  connected: boolean;
  /** It went out on a kept-alive socket. */
  reused: boolean;
  /** Every byte of the request was handed to the OS ('finish'). */
  written: boolean;
  status?: number;
  /** `error.code` of a non-200 JSON answer (NOT_READY, OVERLOADED, ...). */
  errorBody?: string;
  /** The answer said `Connection: close` (the server sends that only while it is closing). */
  connectionClose: boolean;
  /** Client-side failure: an errno code (ECONNREFUSED, ECONNRESET, ...) or TIMEOUT. */
  error?: string;
  /** ms when it settled (answer read or error). */
  settledAt?: number;
}

export type Outcome =
  | '200'
  | '503 NOT_READY'
  | '503 OVERLOADED'
  | 'other status'
  | 'refused: never connected'
  | 'failed before connecting'
  | 'reset before the request was written'
  | 'reset after the request was written, no answer'
  | 'timeout'
  | 'pending';

export const OUTCOMES: Outcome[] = [
  '200',
  '503 NOT_READY',
  '503 OVERLOADED',
  'other status',
  'refused: never connected',
  'failed before connecting',
  'reset before the request was written',
  'reset after the request was written, no answer',
  'timeout',
  'pending',
];

export function outcomeOf(r: RequestRecord): Outcome {
  if (r.status !== undefined) {
    if (r.status === 200) return '200';
    if (r.status === 503 && r.errorBody === 'NOT_READY') return '503 NOT_READY';
    if (r.status === 503 && r.errorBody === 'OVERLOADED') return '503 OVERLOADED';
    return 'other status';
  }
  if (r.error === undefined) return 'pending';
  if (r.error === 'TIMEOUT') return 'timeout';
  if (!r.connected) return r.error === 'ECONNREFUSED' ? 'refused: never connected' : 'failed before connecting';
  return r.written ? 'reset after the request was written, no answer' : 'reset before the request was written';
}

/**
 * Open-loop POST /predict at a fixed rate through a keep-alive http.Agent: requests are issued on
 * schedule whether or not earlier ones were answered (past maxSockets they wait in the agent's
 * queue), so a stalled server shows as latency and errors rather than a slower client.
 */
export class OpenLoopClient {
  readonly records: RequestRecord[] = [];
  private readonly agent: http.Agent;
  private timer: NodeJS.Timeout | undefined;
  private issued = 0;
  private startedAt = 0;
  private outstanding = 0;
  private idle: (() => void) | undefined;

  constructor(
    private readonly url: string,
    private readonly bodies: string[],
    private readonly opts: { rate: number; maxSockets: number; timeoutMs: number },
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets });
  }

  start(): void {
    this.startedAt = performance.now();
    this.timer = setInterval(() => {
      const due = Math.floor(((performance.now() - this.startedAt) / 1000) * this.opts.rate);
      while (this.issued < due) this.send(this.bodies[this.issued % this.bodies.length]);
    }, 5);
  }

  /** Stops issuing, waits until every issued request has settled, and closes the agent. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    if (this.outstanding > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    this.agent.destroy();
  }

  private send(body: string): void {
    this.issued++;
    this.outstanding++;
    const rec: RequestRecord = {
      issuedAt: performance.now(),
      socket: false,
      connected: false,
      reused: false,
      written: false,
      connectionClose: false,
    };
    this.records.push(rec);
    let settled = false;
    const settle = (fields: Partial<RequestRecord>) => {
      if (settled) return;
      settled = true;
      Object.assign(rec, fields, { settledAt: performance.now() });
      if (--this.outstanding === 0) this.idle?.();
    };
    const req = http.request(this.url, {
      method: 'POST',
      agent: this.agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    req.on('socket', (socket) => {
      rec.socket = true;
      rec.reused = req.reusedSocket;
      if (socket.connecting) socket.once('connect', () => (rec.connected = true));
      else rec.connected = true;
    });
    req.on('finish', () => (rec.written = true));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        let errorBody: string | undefined;
        if (status !== 200) {
          try {
            errorBody = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: { code?: string } }).error?.code;
          } catch {
            errorBody = 'unparsable';
          }
        }
        settle({ status, connectionClose: /\bclose\b/i.test(String(res.headers.connection ?? '')), ...(errorBody ? { errorBody } : {}) });
      });
      res.on('error', (err: NodeJS.ErrnoException) => settle({ error: err.code ?? err.message }));
    });
    req.setTimeout(this.opts.timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => settle({ error: err.code ?? err.message }));
    req.end(body);
  }
}
