import { UUID } from '../issue-event.ts';
import type { Orm } from './orm.ts';

/**
 * The user_coupons table: one row per issued unit. Plain SQL on purpose: these are the hot and the
 * counting queries (multi-row INSERT IGNORE, counts, id lists), which the entities would only
 * turn into the same statements with objects in between.
 */

/** One issued unit, as a user's list shows it. */
export interface IssuedCoupon {
  couponId: number;
  userCouponId: number;
  issuedAt: string;
}

/** One admission to persist. */
export interface Issuance {
  userId: number;
  eventId: string;
  issuedAt: Date;
}

/** A user's issued coupons, oldest first. */
export async function issuedCouponsOf(orm: Orm, userId: number): Promise<IssuedCoupon[]> {
  const rows = (await orm.em
    .getConnection()
    .execute('select id, coupon_id, issued_at from user_coupons where user_id = ? order by id', [userId])) as {
    id: number;
    coupon_id: number;
    issued_at: Date;
  }[];
  return rows.map((r) => ({ couponId: Number(r.coupon_id), userCouponId: Number(r.id), issuedAt: new Date(r.issued_at).toISOString() }));
}

/** In one round trip: whether the coupon exists, and whether the user has a row for it. */
export async function couponAndIssue(orm: Orm, couponId: number, userId: number): Promise<{ couponExists: boolean; issued: boolean }> {
  const rows = (await orm.em
    .getConnection()
    .execute(
      'select (select count(*) from coupons where id = ?) as coupon, (select count(*) from user_coupons where coupon_id = ? and user_id = ?) as issued',
      [couponId, couponId, userId],
    )) as { coupon: number | string; issued: number | string }[];
  return { couponExists: Number(rows[0]!.coupon) > 0, issued: Number(rows[0]!.issued) > 0 };
}

/** Rows for the coupon, and distinct users among them (more rows than users: a double issue). */
export async function countIssued(orm: Orm, couponId: number): Promise<{ rows: number; users: number }> {
  const [row] = (await orm.em
    .getConnection()
    .execute('select count(*) as persisted, count(distinct user_id) as users from user_coupons where coupon_id = ?', [couponId])) as {
    persisted: number | string;
    users: number | string;
  }[];
  return { rows: Number(row!.persisted), users: Number(row!.users) };
}

/** The user id of every row of the coupon. */
export async function issuedUserIds(orm: Orm, couponId: number): Promise<number[]> {
  const rows = (await orm.em.getConnection().execute('select user_id from user_coupons where coupon_id = ?', [couponId])) as {
    user_id: number;
  }[];
  return rows.map((r) => Number(r.user_id));
}

/**
 * Writes admissions in one transaction: per coupon, one multi-row INSERT IGNORE and the coupon's
 * issued_count raised by the rows it really inserted. Returns the rows inserted per coupon. A row
 * not inserted is a (coupon, user) pair already present (the unique key is the last line of
 * defence against a double issue) or, since IGNORE turns a broken foreign key into a skipped row
 * too, a user that does not exist: the caller tells which when the counts fall short.
 */
export async function insertIssuances(orm: Orm, byCoupon: ReadonlyMap<number, readonly Issuance[]>): Promise<Map<number, number>> {
  const inserted = new Map<number, number>();
  await orm.em.fork().transactional(async (em) => {
    const tx = em.getConnection();
    const ctx = em.getTransactionContext();
    for (const [couponId, list] of byCoupon) {
      const res = (await tx.execute(
        `insert ignore into user_coupons (coupon_id, user_id, event_id, issued_at) values ${list.map((i) => valuesOf(couponId, i)).join(',')}`,
        [],
        'run',
        ctx,
      )) as { affectedRows: number };
      if (res.affectedRows > 0) {
        await tx.execute('update coupons set issued_count = issued_count + ? where id = ?', [res.affectedRows, couponId], 'run', ctx);
      }
      inserted.set(couponId, res.affectedRows);
    }
  });
  return inserted;
}

/**
 * One row's values as SQL literals. Written out rather than bound: a backlog's batch is some
 * 18,000 rows, and formatting 74,000 placeholders cost the consumer 40-80 ms a batch, twice this.
 * Safe because nothing here can carry a quote: ids are checked integers, the event id a checked
 * UUID (decodeEvent checked it already), the time an ISO string in UTC, as the ORM writes dates.
 */
function valuesOf(couponId: number, { userId, eventId, issuedAt }: Issuance): string {
  if (!Number.isSafeInteger(couponId) || !Number.isSafeInteger(userId) || !UUID.test(eventId) || Number.isNaN(issuedAt.getTime())) {
    throw new TypeError(`not an issuance: coupon ${couponId}, user ${userId}, event ${eventId}, at ${issuedAt}`);
  }
  const at = issuedAt.toISOString();
  return `(${couponId},${userId},'${eventId}','${at.slice(0, 10)} ${at.slice(11, 23)}')`;
}
