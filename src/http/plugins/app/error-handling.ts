import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ApiError } from '../../errors.ts';

/**
 * The one error handler: every error becomes `{ code, message }` with the contract's code. Client
 * mistakes say what was wrong; anything else is logged in full and answered without internals.
 * Not encapsulated: set inside a context, the handlers would apply to that context's routes only.
 */
export const errorHandling = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((err: FastifyError | ApiError, request, reply) => {
      if (err instanceof ApiError) {
        if (err.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.retryAfterSeconds));
        if (err.statusCode >= 500) request.log.warn({ code: err.code }, err.message);
        return reply.code(err.statusCode).send({ code: err.code, message: err.message });
      }
      if (err.validation) {
        return reply.code(400).send({
          code: 'INVALID_REQUEST',
          message: `${err.validationContext ?? 'request'} ${err.validation[0]?.message ?? 'is invalid'}`.trim(),
        });
      }
      const status = err.statusCode ?? 500;
      if (status === 413) return reply.code(413).send({ code: 'PAYLOAD_TOO_LARGE', message: 'Request body is too large' });
      if (status === 415) return reply.code(415).send({ code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Send application/json' });
      if (status === 429) return reply.code(429).send({ code: 'RATE_LIMITED', message: 'Too many requests' });
      if (status >= 400 && status < 500) {
        // Fastify's own client errors (bad JSON, empty body with a JSON content type, ...).
        return reply.code(400).send({ code: 'INVALID_REQUEST', message: err.message });
      }
      request.log.error({ err }, 'unhandled error');
      return reply.code(500).send({ code: 'INTERNAL', message: 'Internal error' });
    });

    app.setNotFoundHandler((request, reply) => {
      reply.code(404).send({ code: 'NOT_FOUND', message: `No route ${request.method} ${request.url.split('?')[0]}` });
    });
  },
  { name: 'error-handling' },
);

/**
 * Errors Fastify raises before routing (a malformed URL, an over-long path segment): same body
 * shape as every other error, and never the offending input echoed back.
 */
export function frameworkErrors(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  // An over-long id is a malformed id like any other: the contract's 400, which the OpenAPI
  // document declares for every operation with a path parameter (a 414 it could not declare).
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    reply.code(400).send({ code: 'INVALID_REQUEST', message: 'A path segment is too long' });
    return;
  }
  reply.code(400).send({ code: 'INVALID_REQUEST', message: 'Malformed request' });
}
