import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { loggerOptions } from '../log.ts';
import type { AppDeps } from './deps.ts';
import { intakeServer } from '../overload/intake-server.ts';
import { OVERLOADED } from '../overload/refusal.ts';
import { adminAuth } from './plugins/app/admin-auth.ts';
import { errorHandling, frameworkErrors } from './plugins/app/error-handling.ts';
import { requestMetrics } from './plugins/app/request-metrics.ts';
import { gracefulShutdown } from './plugins/app/shutdown.ts';
import { swagger } from './plugins/external/swagger.ts';
import { underPressure } from './plugins/external/under-pressure.ts';
import { couponRoutes } from './routes/coupons.ts';
import { ISSUE_ROUTE, issueRoutes } from './routes/issue.ts';
import { operationRoutes } from './routes/operations.ts';
import { userRoutes } from './routes/users.ts';
import { lazyChildLogger } from './request-logger.ts';
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
    // Requests that arrive while closing get the contract's 503 (plugins/app/shutdown.ts), not Fastify's own.
    return503OnClosing: false,
    // No per-request log lines: a flood would write one per request; metrics count them instead.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyChildLogger,
    frameworkErrors,
    trustProxy: deps.config.limits.trustProxy,
    serverFactory: intakeServer(deps.overload, deps.metrics.instantShed(ISSUE_ROUTE)),
  });
  app.setValidatorCompiler(validatorCompiler);
  // The API speaks JSON only: anything else is a 415, not a string that fails validation later.
  app.removeContentTypeParser('text/plain');

  app.addSchema(errorBody);
  app.addSchema(couponView);
  await app.register(errorHandling);
  await app.register(gracefulShutdown);
  await app.register(requestMetrics, { observe: (...request) => deps.metrics.observeRequest(...request) });
  await app.register(underPressure, {
    maxEventLoopDelayMs: deps.config.limits.maxEventLoopDelayMs,
    body: OVERLOADED,
    onShed: () => deps.metrics.shed.inc({ reason: 'event_loop' }),
  });
  // The issue route's refusals are answered before routing, the backstop's too.
  if (app.hasDecorator('isUnderPressure')) deps.overload.useBackstop(() => app.isUnderPressure());
  await app.register(swagger);
  await app.register(adminAuth, { token: deps.config.adminToken });

  userRoutes(app, deps);
  couponRoutes(app, deps);
  issueRoutes(app, deps);
  operationRoutes(app, deps);
  return app;
}
