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
 * Which of these user ids do not exist. Plain SQL: the consumer asks this of a whole batch's users
 * (thousands, replaying a backlog) when an insert fell short, mostly for replayed rows, so the
 * answer is usually none. Counting first gives that in one number, where reading the ids back
 * cost parsing a row per id; the ids are read only when some are missing.
 */
export async function missingUserIds(orm: Orm, userIds: readonly number[]): Promise<Set<number>> {
  const ids = [...new Set(userIds)];
  if (ids.length === 0) return new Set();
  // The ids written out: formatting 18,000 placeholders cost more than the query. Integers only.
  if (!ids.every(Number.isSafeInteger)) throw new TypeError('user ids must be integers');
  const list = ids.join(',');
  const connection = orm.em.getConnection();
  const [count] = (await connection.execute(`select count(*) as n from users where id in (${list})`)) as { n: number | string }[];
  if (Number(count!.n) === ids.length) return new Set();
  const rows = (await connection.execute(`select id from users where id in (${list})`)) as { id: number }[];
  const found = new Set(rows.map((r) => Number(r.id)));
  return new Set(ids.filter((id) => !found.has(id)));
}
