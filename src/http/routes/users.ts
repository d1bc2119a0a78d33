import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../deps.ts';
import { errorResponses, publicId } from '../schemas.ts';

export function userRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.post<{ Body: { name: string } }>(
    '/api/users',
    {
      schema: {
        tags: ['users'],
        summary: 'Register a user',
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: { name: { type: 'string', minLength: 1, maxLength: 100, pattern: '\\S' } },
        },
        response: {
          201: {
            type: 'object',
            required: ['id', 'publicId'],
            properties: { id: { type: 'integer' }, publicId: { type: 'string', format: 'uuid' } },
          },
          ...errorResponses(400),
        },
      },
    },
    async (request, reply) => {
      const user = await deps.users.create(request.body.name.trim());
      return reply.code(201).send(user);
    },
  );

  app.get<{ Params: { publicId: string } }>(
    '/api/users/:publicId/coupons',
    {
      schema: {
        tags: ['users'],
        summary: "A user's issued coupons",
        params: { type: 'object', required: ['publicId'], properties: { publicId } },
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              required: ['couponId', 'userCouponId', 'issuedAt'],
              properties: {
                couponId: { type: 'integer' },
                userCouponId: { type: 'integer' },
                issuedAt: { type: 'string', format: 'date-time' },
              },
            },
          },
          ...errorResponses(400, 404),
        },
      },
    },
    async (request, reply) => {
      const coupons = await deps.users.couponsOf(request.params.publicId.toLowerCase());
      if (!coupons) return reply.code(404).send({ code: 'USER_NOT_FOUND', message: 'User not found' });
      return coupons;
    },
  );
}
