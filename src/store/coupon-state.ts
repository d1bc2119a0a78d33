import { COUPON_IDS, couponKeys } from './keys.ts';
import type { Redis } from './redis.ts';
import type { AdmissionScripts } from './scripts.ts';

/** What Redis needs to know of a coupon to admit requests for it. */
export interface CouponDefinition {
  id: number;
  name: string;
  totalQuantity: number;
  startsAt?: Date | null;
  endsAt?: Date | null;
}

const ms = (d: Date | null | undefined) => (d ? d.getTime() : 0);

/**
 * Creates the coupon's admission state in Redis if absent (never resets stock already taken) and
 * lists it among the coupons reconciliation walks. Returns the units left.
 */
export async function initCouponState(redis: Redis, scripts: AdmissionScripts, coupon: CouponDefinition): Promise<number> {
  const remaining = await scripts.initCoupon(coupon.id, {
    total: coupon.totalQuantity,
    startsAtMs: ms(coupon.startsAt),
    endsAtMs: ms(coupon.endsAt),
    name: coupon.name,
  });
  await redis.sadd(COUPON_IDS, String(coupon.id));
  return remaining;
}

/** Units left as Redis counts them; null when Redis has no state for the coupon. */
export async function remainingStock(redis: Redis, couponId: number): Promise<number | null> {
  const stock = await redis.get(couponKeys(couponId).stock);
  return stock === null ? null : Number(stock);
}

/** Whether Redis admitted the user for the coupon. */
export async function isAdmitted(redis: Redis, couponId: number, userId: number): Promise<boolean> {
  return (await redis.sismember(couponKeys(couponId).users, String(userId))) === 1;
}

/** Every coupon id Redis holds admission state for, ascending. */
export async function knownCouponIds(redis: Redis): Promise<number[]> {
  const ids = await redis.smembers(COUPON_IDS);
  return ids.map(Number).sort((a, b) => a - b);
}

/** Whether Redis has the coupon's stock (it lost it after a flush, or a start without AOF). */
export async function hasCouponState(redis: Redis, couponId: number): Promise<boolean> {
  return (await redis.exists(couponKeys(couponId).stock)) > 0;
}

/** Users admitted, units left (0 when unknown) and admissions not yet taken by the consumer. */
export async function admissionCounts(redis: Redis, couponId: number): Promise<{ admitted: number; remaining: number; pending: number }> {
  const keys = couponKeys(couponId);
  const [admitted, stock, pending] = await Promise.all([redis.scard(keys.users), redis.get(keys.stock), redis.hlen(keys.pending)]);
  return { admitted, remaining: Number(stock ?? 0), pending };
}

/** The event JSON of every admission the consumer has not taken yet. */
export async function pendingEventJsons(redis: Redis, couponId: number): Promise<string[]> {
  return Object.values(await redis.hgetall(couponKeys(couponId).pending));
}

/** The ids of every user Redis admitted for the coupon. */
export async function admittedUserIds(redis: Redis, couponId: number): Promise<number[]> {
  return (await redis.smembers(couponKeys(couponId).users)).map(Number).filter(Number.isSafeInteger);
}

/**
 * Rebuilds lost admission state from the database's record: these users count as admitted, and
 * the stock, if absent, is what the rows leave.
 */
export async function restoreAdmissions(redis: Redis, couponId: number, userIds: readonly number[], remaining: number): Promise<void> {
  const keys = couponKeys(couponId);
  if (userIds.length > 0) await redis.sadd(keys.users, ...userIds.map(String));
  await redis.set(keys.stock, String(Math.max(0, remaining)), 'NX');
}
