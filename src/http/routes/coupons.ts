import type { FastifyInstance } from 'fastify';
import { MAX_TOTAL_QUANTITY } from '../../catalog/coupons.ts';
import type { AppDeps } from '../deps.ts';
import { ApiError, notFound } from '../errors.ts';
import { adminSecurity, couponId, errorResponses, instant } from '../schemas.ts';

const idParams = { type: 'object', required: ['couponId'], properties: { couponId } } as const;
const MAX_QUANTITY = 10_000_000;

interface NewCouponBody {
  name: string;
  totalQuantity: number;
  startsAt?: string | null;
  endsAt?: string | null;
}

export function couponRoutes(app: FastifyInstance, deps: AppDeps): void {
  const admin = app.adminOnly;

  app.post<{ Body: NewCouponBody }>(
    '/api/coupons',
    {
      preHandler: admin,
      schema: {
        tags: ['coupons'],
        summary: 'Create a coupon (admin)',
        security: adminSecurity,
        body: {
          type: 'object',
          required: ['name', 'totalQuantity'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' },
            totalQuantity: { type: 'integer', minimum: 1, maximum: MAX_QUANTITY },
            startsAt: { anyOf: [instant, { type: 'null' }] },
            endsAt: { anyOf: [instant, { type: 'null' }] },
          },
        },
        response: { 201: { $ref: 'Coupon#' }, ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const { name, totalQuantity } = request.body;
      const startsAt = request.body.startsAt ? new Date(request.body.startsAt) : null;
      const endsAt = request.body.endsAt ? new Date(request.body.endsAt) : null;
      if (startsAt && endsAt && endsAt <= startsAt) throw new ApiError(400, 'INVALID_REQUEST', 'endsAt must be after startsAt');
      const view = await deps.coupons.create({ name: name.trim(), totalQuantity, startsAt, endsAt });
      return reply.code(201).send(view);
    },
  );

  app.get<{ Params: { couponId: number } }>(
    '/api/coupons/:couponId',
    {
      schema: {
        tags: ['coupons'],
        summary: 'A coupon, with the units left',
        params: idParams,
        response: { 200: { $ref: 'Coupon#' }, ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      const view = await deps.coupons.view(request.params.couponId);
      if (!view) throw notFound('COUPON_NOT_FOUND', 'Coupon');
      return view;
    },
  );

  app.post<{ Params: { couponId: number }; Body: { add: number } }>(
    '/api/coupons/:couponId/stock',
    {
      preHandler: admin,
      schema: {
        tags: ['coupons'],
        summary: 'Add units to a coupon (admin)',
        security: adminSecurity,
        params: idParams,
        body: {
          type: 'object',
          required: ['add'],
          additionalProperties: false,
          properties: { add: { type: 'integer', minimum: 1, maximum: MAX_QUANTITY } },
        },
        response: { 200: { $ref: 'Coupon#' }, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const view = await deps.coupons.addStock(request.params.couponId, request.body.add);
      if (!view) throw notFound('COUPON_NOT_FOUND', 'Coupon');
      if (view === 'OVER_MAX') throw new ApiError(400, 'INVALID_REQUEST', `A coupon holds at most ${MAX_TOTAL_QUANTITY} units in all`);
      return view;
    },
  );

  app.get<{ Params: { couponId: number } }>(
    '/api/coupons/:couponId/reconciliation',
    {
      preHandler: admin,
      schema: {
        tags: ['coupons'],
        summary: 'Compare Redis with the database for a coupon and settle orphaned admissions (admin)',
        security: adminSecurity,
        params: idParams,
        response: {
          200: {
            type: 'object',
            required: ['admitted', 'remaining', 'persisted', 'duplicates', 'overIssued', 'consistent'],
            properties: {
              couponId: { type: 'integer' },
              total: { type: 'integer' },
              admitted: { type: 'integer' },
              remaining: { type: 'integer' },
              persisted: { type: 'integer' },
              pending: { type: 'integer' },
              duplicates: { type: 'integer' },
              overIssued: { type: 'integer' },
              issuedCount: { type: 'integer' },
              republished: { type: 'integer' },
              restored: { type: 'boolean' },
              consistent: { type: 'boolean' },
            },
          },
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      const report = await deps.reconciler.reconcile(request.params.couponId);
      if (!report) throw notFound('COUPON_NOT_FOUND', 'Coupon');
      return report;
    },
  );
}
