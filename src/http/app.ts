import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyUnderPressure from '@fastify/under-pressure';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { loggerOptions } from '../log.ts';
import type { AppDeps } from './deps.ts';
import { earlyShedServer } from './early-shed.ts';
import { OVERLOADED } from './issue-gate.ts';
import { frameworkErrors, registerErrorHandling } from './plugins/errors.ts';
import { couponRoutes } from './routes/coupons.ts';
import { issueRoutes } from './routes/issue.ts';
import { operationRoutes } from './routes/operations.ts';
import { userRoutes } from './routes/users.ts';
import { couponView, errorBody } from './schemas.ts';
import { validatorCompiler } from './validation.ts';

/**
 * Builds the API without listening, so tests and the server start the same app. Everything it
 * talks to arrives in `deps`.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(deps.config.logLevel, 'api', deps.config.env),
    bodyLimit: 16 * 1024,
    routerOptions: { maxParamLength: 100 },
    // Requests that arrive while closing get the contract's 503 (below), not Fastify's own body.
    return503OnClosing: false,
    // No per-request log lines: a flood would write one per request; metrics count them instead.
    logController: new LogController({ disableRequestLogging: true }),
    frameworkErrors,
    trustProxy: deps.config.limits.trustProxy,
    serverFactory: earlyShedServer(deps.gate, deps.metrics),
  });
  app.setValidatorCompiler(validatorCompiler);
  // The API speaks JSON only: anything else is a 415, not a string that fails validation later.
  app.removeContentTypeParser('text/plain');

  app.addSchema(errorBody);
  app.addSchema(couponView);
  registerErrorHandling(app);

  // Graceful shutdown: requests already in progress finish; one arriving on a kept-alive connection
  // after close began is told to retry (elsewhere) and the connection is closed behind it.
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) return done();
    reply.code(503).header('retry-after', '1').header('connection', 'close').send({ code: 'UNAVAILABLE', message: 'Shutting down, retry shortly' });
  });

  // A callback hook, not an async one: no promise per request for a counter update.
  app.addHook('onResponse', (request, reply, done) => {
    deps.metrics.observeRequest(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  if (deps.config.limits.maxEventLoopDelayMs > 0) {
    await app.register(fastifyUnderPressure, {
      maxEventLoopDelay: deps.config.limits.maxEventLoopDelayMs,
      // The mean delay over a quarter second: a flood is noticed within it, not a second later.
      sampleInterval: 250,
      retryAfter: 1,
      pressureHandler: (_request, reply) => {
        deps.metrics.shed.inc({ reason: 'event_loop' });
        reply.code(503).header('retry-after', '1');
        // under-pressure sends a non-null return value as the body (its typings say void).
        return OVERLOADED as unknown as void;
      },
    });
  }

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'FCFS coupon issuance',
        version: '1.0.0',
        description: 'First-come-first-served coupons: exactly the stock, never twice to one user.',
      },
      components: {
        securitySchemes: { adminToken: { type: 'http', scheme: 'bearer' } },
      },
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  userRoutes(app, deps);
  couponRoutes(app, deps);
  issueRoutes(app, deps);
  operationRoutes(app, deps);
  return app;
}
