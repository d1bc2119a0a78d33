import { raw } from '@mikro-orm/core';
import { Coupon } from './entities.ts';
import type { Orm } from './orm.ts';

/** A coupon as the database records it. */
export interface CouponRow {
  id: number;
  name: string;
  totalQuantity: number;
  issuedCount: number;
  startsAt?: Date | null;
  endsAt?: Date | null;
}

export interface NewCouponRow {
  name: string;
  totalQuantity: number;
  startsAt: Date | null;
  endsAt: Date | null;
}

/** The coupons table. */
export async function insertCoupon(orm: Orm, input: NewCouponRow): Promise<CouponRow> {
  const em = orm.em.fork();
  const coupon = em.create(Coupon, { ...input, issuedCount: 0, createdAt: new Date() });
  await em.flush();
  return coupon;
}

export async function findCoupon(orm: Orm, couponId: number): Promise<CouponRow | null> {
  return orm.em.fork().findOne(Coupon, { id: couponId });
}

/**
 * Adds `add` units to the coupon's total in one statement, unless that would take it past
 * `maxTotal`. Returns whether a row changed (false: no such coupon, or over the maximum).
 */
export async function addToTotalQuantity(orm: Orm, couponId: number, add: number, maxTotal: number): Promise<boolean> {
  const updated = await orm.em
    .fork()
    .nativeUpdate(Coupon, { id: couponId, totalQuantity: { $lte: maxTotal - add } }, { totalQuantity: raw('total_quantity + ?', [add]) });
  return updated > 0;
}

/** Which of these coupon ids exist. */
export async function existingCouponIds(orm: Orm, couponIds: readonly number[]): Promise<Set<number>> {
  if (couponIds.length === 0) return new Set();
  const rows = await orm.em.fork().find(Coupon, { id: { $in: [...couponIds] } }, { fields: ['id'] });
  return new Set(rows.map((r) => r.id));
}
