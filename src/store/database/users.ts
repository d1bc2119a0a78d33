import { randomUUID } from 'node:crypto';
import { User } from './entities.ts';
import type { Orm } from './orm.ts';

export interface UserIds {
  id: number;
  publicId: string;
}

/** Inserts users in one statement, each with a new public id; returns their ids in order. */
export async function insertUsers(orm: Orm, names: readonly string[]): Promise<UserIds[]> {
  if (names.length === 0) return [];
  const rows = names.map((name) => ({ publicId: randomUUID(), name, createdAt: new Date() }));
  await orm.em.fork().insertMany(User, rows);
  // Read the ids back: a multi-row insert reports only its first id, and with MySQL 8's
  // interleaved auto-increment the rest need not be consecutive.
  const ids = await findUserIds(
    orm,
    rows.map((r) => r.publicId),
  );
  return rows.map((r) => ({ id: ids.get(r.publicId)!, publicId: r.publicId }));
}

/** The database's answer for a set of public ids: those that exist, with their ids. */
export async function findUserIds(orm: Orm, publicIds: readonly string[]): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  if (publicIds.length === 0) return found;
  const rows = await orm.em.fork().find(User, { publicId: { $in: [...publicIds] } }, { fields: ['id', 'publicId'] });
  for (const row of rows) found.set(row.publicId, row.id);
  return found;
}

export async function findUser(orm: Orm, publicId: string): Promise<UserIds | null> {
  const row = await orm.em.fork().findOne(User, { publicId }, { fields: ['id', 'publicId'] });
  return row ? { id: row.id, publicId: row.publicId } : null;
}

/** Public ids by user id, for those of `userIds` that exist. */
export async function findPublicIds(orm: Orm, userIds: readonly number[]): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  if (userIds.length === 0) return found;
  const rows = await orm.em.fork().find(User, { id: { $in: [...userIds] } }, { fields: ['id', 'publicId'] });
  for (const row of rows) found.set(row.id, row.publicId);
  return found;
}

/**
 * Which of these user ids exist. Plain SQL: the consumer asks this for every batch, thousands of
 * ids at once while it drains a backlog, and entities for them would only be built to be dropped.
 */
export async function existingUserIds(orm: Orm, userIds: readonly number[]): Promise<Set<number>> {
  if (userIds.length === 0) return new Set();
  const ids = [...new Set(userIds)];
  const rows = (await orm.em.getConnection().execute(`select id from users where id in (${ids.map(() => '?').join(',')})`, ids)) as {
    id: number;
  }[];
  return new Set(rows.map((r) => Number(r.id)));
}
