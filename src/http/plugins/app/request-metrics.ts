import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface RequestMetricsOptions {
  /** One answered request: its route template, method, status and duration. */
  observe: (route: string, method: string, statusCode: number, seconds: number) => void;
}

/** Every answered request into the duration histogram. Not encapsulated: it times every route. */
export const requestMetrics = fp(
  async (app: FastifyInstance, { observe }: RequestMetricsOptions) => {
    // A callback hook, not an async one: no promise per request for a counter update.
    app.addHook('onResponse', (request, reply, done) => {
      observe(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  },
  { name: 'request-metrics' },
);
