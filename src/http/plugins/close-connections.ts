import type { Socket } from 'node:net';
import fp from 'fastify-plugin';

/**
 * Closing ends every connection, so that server.close() returns within the grace period.
 *
 * - From the moment close begins, every answer says `Connection: close`. Node's server.close()
 *   ends the idle sockets at once, but a keep-alive socket whose request was still in flight
 *   then gets a keep-alive answer and stays open until the client or the keep-alive timeout
 *   (72 s in fastify) ends it.
 * - Once the listener has closed, sockets that never sent a byte are destroyed. Node counts a
 *   fresh connection as busy until its first request completes, so server.close() leaves it
 *   open, and a client that opened one and sent nothing held a stopping container for the
 *   whole grace period, which then exited 1.
 *
 * Register it before any preClose hook that waits (the drain delay), since preClose hooks run in
 * order and the answers sent during that wait need the header too.
 */
export default fp(
  async (app) => {
    let closing = false;
    // bytesRead, not a 'data' listener: one would take the socket off Node's native parser path.
    const sockets = new Set<Socket>();
    app.server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    app.addHook('preClose', async () => {
      closing = true;
      // The listener closes once every preClose hook has run; a sweep before it could miss a
      // connection accepted in between, and one after it sees the last of them.
      const sweep = setInterval(() => {
        if (app.server.listening) return;
        clearInterval(sweep);
        for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy();
      }, 50);
      sweep.unref();
    });
    app.addHook('onSend', async (_request, reply, payload) => {
      if (closing) reply.header('connection', 'close');
      return payload;
    });
  },
  { name: 'ood-close-connections', fastify: '5.x' },
);
