import type { FastifyInstance } from 'fastify';
import type { AdmissionOutcome } from '../../admission/outcome.ts';
import { enteredAt } from '../../overload/intake-server.ts';
import { overloaded, refusalBody, type Refusal } from '../../overload/refusal.ts';
import type { AppDeps } from '../deps.ts';
import { couponId, errorResponses, publicId } from '../schemas.ts';

/** The issue route's template, as Fastify labels its metrics. */
export const ISSUE_ROUTE = '/api/coupons/:couponId/issue-fcfs/:publicId';

const params = {
  type: 'object',
  required: ['couponId', 'publicId'],
  properties: { couponId, publicId },
} as const;

interface Params {
  couponId: number;
  publicId: string;
}

const STATUS: Record<AdmissionOutcome['result'], number> = {
  ACCEPTED: 202,
  ALREADY_ISSUED: 409,
  SOLD_OUT: 409,
  NOT_OPEN: 409,
  COUPON_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  UNAVAILABLE: 503,
};

const MESSAGE: Record<AdmissionOutcome['result'], string> = {
  ACCEPTED: 'Accepted',
  ALREADY_ISSUED: 'This user already has this coupon',
  SOLD_OUT: 'The coupon is sold out',
  NOT_OPEN: 'The coupon is outside its issue window',
  COUPON_NOT_FOUND: 'Coupon not found',
  USER_NOT_FOUND: 'User not found',
  UNAVAILABLE: 'Temporarily unavailable, retry shortly',
};

export function issueRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.post<{ Params: Params }>(
    ISSUE_ROUTE,
    {
      schema: {
        tags: ['issue'],
        summary: 'Ask for one unit of a first-come-first-served coupon',
        params,
        response: {
          202: {
            type: 'object',
            required: ['status', 'requestId'],
            properties: { status: { type: 'string', enum: ['ACCEPTED'] }, requestId: { type: 'string' } },
          },
          ...errorResponses(400, 404, 409, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const publicId = request.params.publicId.toLowerCase();
      const refuse = (refusal: Refusal) =>
        reply.code(refusal.status).header('retry-after', String(refusal.retryAfterSeconds)).send(refusalBody(refusal));
      // Taken in by the intake before routing (src/overload/intake-server.ts); a request that did not
      // come through it (app.inject) is taken in here, by the same control.
      let arrivedAt = enteredAt(request.raw);
      const ownPlace = arrivedAt === undefined;
      if (ownPlace) {
        arrivedAt = performance.now();
        if (!deps.overload.enter(arrivedAt)) {
          deps.metrics.countInFlightShed();
          return refuse(overloaded());
        }
      }
      try {
        if (deps.rateLimiter.counts(request.ip)) {
          const limited = await deps.rateLimiter.check(request.ip, publicId);
          if (limited) return refuse(limited);
        }
        const outcome = await deps
          .admit({ couponId: request.params.couponId, publicId }, arrivedAt!)
          .catch((err: unknown): AdmissionOutcome => {
            request.log.error({ err }, 'shard worker failed');
            return { result: 'UNAVAILABLE', retryAfterSeconds: 1 };
          });
        // The hot path answers without throwing: exceptions cost more than the rest of the request.
        if (outcome.result === 'ACCEPTED') return reply.code(202).send({ status: 'ACCEPTED', requestId: outcome.requestId });
        if (outcome.result === 'UNAVAILABLE') reply.header('retry-after', String(outcome.retryAfterSeconds));
        return reply.code(STATUS[outcome.result]).send({ code: outcome.result, message: MESSAGE[outcome.result] });
      } finally {
        if (ownPlace) deps.overload.leave(performance.now());
      }
    },
  );

  app.get<{ Params: Params }>(
    ISSUE_ROUTE,
    {
      schema: {
        tags: ['issue'],
        summary: 'Where an issue request stands: PENDING until its row exists, then ISSUED',
        params,
        response: {
          200: {
            type: 'object',
            required: ['status'],
            properties: { status: { type: 'string', enum: ['PENDING', 'ISSUED', 'NOT_ISSUED'] } },
          },
          ...errorResponses(400, 404),
        },
      },
    },
    async (request, reply) => {
      const status = await deps.issueStatus(request.params.couponId, request.params.publicId.toLowerCase());
      if (status === 'USER_NOT_FOUND') return reply.code(404).send({ code: 'USER_NOT_FOUND', message: 'User not found' });
      if (status === 'COUPON_NOT_FOUND') return reply.code(404).send({ code: 'COUPON_NOT_FOUND', message: 'Coupon not found' });
      return { status };
    },
  );
}
