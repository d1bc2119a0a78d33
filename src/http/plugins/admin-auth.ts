import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * A preHandler for admin routes: `Authorization: Bearer <ADMIN_TOKEN>`. Digests of equal length
 * are compared in constant time, so the comparison leaks neither the token nor its length.
 */
export function adminAuth(token: string) {
  const expected = digest(token);
  return async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.authorization;
    if (!header) throw new ApiError(401, 'UNAUTHORIZED', 'Admin token required (Authorization: Bearer ...)');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
      throw new ApiError(403, 'FORBIDDEN', 'Admin token not accepted');
    }
  };
}
