import { randomUUID } from 'node:crypto';
import type { Orm } from '../store/database/orm.ts';
import { User } from '../store/database/entities.ts';
import type { Redis } from '../store/redis.ts';
import { USERS_BY_PUBLIC_ID } from '../store/keys.ts';

export interface CreatedUser {
  id: number;
  publicId: string;
}

/** Inserts users in one statement and makes them known to admission (Redis) at once. */
export async function createUsers(orm: Orm, redis: Redis, names: readonly string[]): Promise<CreatedUser[]> {
  if (names.length === 0) return [];
  const em = orm.em.fork();
  const rows = names.map((name) => ({ publicId: randomUUID(), name, createdAt: new Date() }));
  await em.insertMany(User, rows);
  // Read the ids back: a multi-row insert reports only its first id, and with MySQL 8's
  // interleaved auto-increment the rest need not be consecutive.
  const ids = await findUserIds(orm, rows.map((r) => r.publicId));
  const created = rows.map((r) => ({ id: ids.get(r.publicId)!, publicId: r.publicId }));
  await rememberUsers(redis, created);
  return created;
}

/**
 * Writes public id -> user id into the Redis directory. A failure here is not fatal: admission
 * falls back to the database for users Redis does not know.
 */
export async function rememberUsers(redis: Redis, users: readonly CreatedUser[]): Promise<void> {
  if (users.length === 0) return;
  const flat: (string | number)[] = [];
  for (const u of users) flat.push(u.publicId, u.id);
  await redis.hset(USERS_BY_PUBLIC_ID, ...flat);
}

/** The database's answer for a set of public ids: those that exist, with their ids. */
export async function findUserIds(orm: Orm, publicIds: readonly string[]): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  if (publicIds.length === 0) return found;
  const rows = await orm.em.fork().find(User, { publicId: { $in: [...publicIds] } }, { fields: ['id', 'publicId'] });
  for (const row of rows) found.set(row.publicId, row.id);
  return found;
}

export async function findUser(orm: Orm, publicId: string): Promise<{ id: number; publicId: string } | null> {
  const row = await orm.em.fork().findOne(User, { publicId }, { fields: ['id', 'publicId'] });
  return row ? { id: row.id, publicId: row.publicId } : null;
}
