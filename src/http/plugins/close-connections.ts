import fp from 'fastify-plugin';

/**
 * From the moment close begins, every answer says `Connection: close`.
 *
 * Node's server.close() waits for every open socket. It ends the idle ones at once, but a
 * keep-alive socket whose request was still in flight then gets a keep-alive answer and stays
 * open until the client or the keep-alive timeout (72 s in fastify) ends it. A Prometheus scrape
 * in flight as the metrics port closed held a stopping process past its grace period, which then
 * exited 1. With this header each such socket ends with its answer.
 *
 * Register it before any preClose hook that waits (the drain delay), since preClose hooks run in
 * order and the answers sent during that wait need the header too.
 */
export default fp(
  async (app) => {
    let closing = false;
    app.addHook('preClose', async () => {
      closing = true;
    });
    app.addHook('onSend', async (_request, reply, payload) => {
      if (closing) reply.header('connection', 'close');
      return payload;
    });
  },
  { name: 'ood-close-connections', fastify: '5.x' },
);
