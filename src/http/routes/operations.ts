import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.ts';

// Operations must keep answering while the API sheds load: an overload is exactly when the
// metrics matter, and liveness must not restart a process that is merely busy.
const notShed = { pressureHandler: () => undefined };

/** Liveness, readiness and the Prometheus endpoint: not part of the API document. */
export function operationRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/health/live', { schema: { hide: true }, config: notShed }, async () => ({ status: 'ok' }));

  app.get('/health/ready', { schema: { hide: true } }, async (_request, reply) => {
    const checks = await deps.readiness();
    const ready = Object.values(checks).every(Boolean);
    if (!ready) reply.code(503).header('retry-after', '1');
    return { status: ready ? 'ready' : 'unavailable', checks };
  });

  app.get('/metrics', { schema: { hide: true }, config: notShed }, async (_request, reply) => {
    const { contentType, body } = await deps.metrics.render();
    return reply.type(contentType).send(body);
  });
}
