import fp from 'fastify-plugin';

export interface DrainPluginOptions {
  /** How long to keep serving, unready, after close begins and before the listener closes. */
  delayMs: number;
}

/** What the server did with requests during a shutdown, for its last log line. */
export interface DrainCounts {
  /** Requests whose response has not ended yet. */
  inFlight: number;
  /** Requests that ended with their whole response sent, since close began. */
  answered: number;
  /** Requests whose socket closed before their response was complete, since close began. */
  unfinished: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** True from the moment close begins: /readyz answers 503 so load balancers drain us. */
    isDraining(): boolean;
    drainCounts(): DrainCounts;
  }
}

/**
 * Connection draining on shutdown: for `delayMs` the server keeps serving while /readyz says 503,
 * so a load balancer stops sending, and requests already sitting unread in socket buffers get
 * read: Node's server.close() destroys every socket it considers idle, which includes one whose
 * request it has not parsed yet, and that client would see a reset for a request it had sent.
 * Every answer sent meanwhile says `Connection: close` (close-connections.ts), so each keep-alive
 * socket ends with its last answer instead of holding server.close() open.
 */
export default fp<DrainPluginOptions>(
  async (app, { delayMs }) => {
    let draining = false;
    const counts: DrainCounts = { inFlight: 0, answered: 0, unfinished: 0 };
    app.decorate('isDraining', () => draining);
    app.decorate('drainCounts', () => ({ ...counts }));

    // The first onRequest hook, so a request refused by a later one (401, 503) is counted too;
    // the raw response's 'close' fires once however the request ends, even if the client left.
    app.addHook('onRequest', async (_request, reply) => {
      counts.inFlight++;
      reply.raw.once('close', () => {
        counts.inFlight--;
        if (!draining) return;
        if (reply.raw.writableFinished) counts.answered++;
        else counts.unfinished++;
      });
    });

    app.addHook('preClose', async () => {
      draining = true;
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    });
  },
  { name: 'ood-drain', fastify: '5.x', dependencies: ['ood-close-connections'] },
);
