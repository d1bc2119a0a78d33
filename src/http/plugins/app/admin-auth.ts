import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ApiError } from '../../errors.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** A preHandler for admin routes: `Authorization: Bearer <ADMIN_TOKEN>`, else 401 or 403. */
    adminOnly: (request: FastifyRequest) => Promise<void>;
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Decorates the instance with `adminOnly`. Digests of equal length are compared in constant time,
 * so the comparison leaks neither the token nor its length. Not encapsulated: routes registered
 * anywhere use the decorator.
 */
export const adminAuth = fp(
  async (app: FastifyInstance, { token }: { token: string }) => {
    const expected = digest(token);
    app.decorate('adminOnly', async (request: FastifyRequest): Promise<void> => {
      const header = request.headers.authorization;
      if (!header) throw new ApiError(401, 'UNAUTHORIZED', 'Admin token required (Authorization: Bearer ...)');
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
        throw new ApiError(403, 'FORBIDDEN', 'Admin token not accepted');
      }
    });
  },
  { name: 'admin-auth' },
);
