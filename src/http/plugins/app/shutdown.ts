import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * Graceful shutdown: requests already in progress finish; one arriving on a kept-alive connection
 * after close began is told to retry (elsewhere) and the connection is closed behind it. Not
 * encapsulated: the hook must see every route.
 */
export const gracefulShutdown = fp(
  async (app: FastifyInstance) => {
    let closing = false;
    app.addHook('preClose', (done) => {
      closing = true;
      done();
    });
    app.addHook('onRequest', (_request, reply, done) => {
      if (!closing) return done();
      reply
        .code(503)
        .header('retry-after', '1')
        .header('connection', 'close')
        .send({ code: 'UNAVAILABLE', message: 'Shutting down, retry shortly' });
    });
  },
  { name: 'graceful-shutdown' },
);
