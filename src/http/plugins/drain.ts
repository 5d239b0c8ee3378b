import fp from 'fastify-plugin';

/**
 * Connection draining on shutdown. server.close() waits for every open socket, and a keep-alive
 * socket that was busy when close began would otherwise stay open for the whole keep-alive
 * timeout after its last answer, until the shutdown bound kills the process with exit 1. Every
 * answer sent while closing says `Connection: close`, so each socket ends with its last answer.
 */
export default fp(
  async (app) => {
    let draining = false;
    app.addHook('preClose', async () => {
      draining = true;
    });
    app.addHook('onSend', async (_request, reply, payload) => {
      if (draining) reply.header('connection', 'close');
      return payload;
    });
  },
  { name: 'ood-drain', fastify: '5.x' },
);
