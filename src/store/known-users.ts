import { USERS_BY_PUBLIC_ID } from './keys.ts';
import type { Redis } from './redis.ts';

/**
 * Writes public id -> user id into the Redis directory admission reads. A failure here is not
 * fatal: admission falls back to the database for users Redis does not know.
 */
export async function rememberUsers(redis: Redis, users: readonly { id: number; publicId: string }[]): Promise<void> {
  if (users.length === 0) return;
  const flat: (string | number)[] = [];
  for (const u of users) flat.push(u.publicId, u.id);
  await redis.hset(USERS_BY_PUBLIC_ID, ...flat);
}
