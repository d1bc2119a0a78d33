import type { Orm } from '../store/database/orm.ts';
import { raw } from '@mikro-orm/core';
import { Coupon } from '../store/database/entities.ts';
import type { Redis } from '../store/redis.ts';
import { COUPON_CHANGED_CHANNEL, COUPON_IDS, couponKeys } from '../store/keys.ts';
import type { AdmissionScripts } from '../store/scripts.ts';
import { encodeCouponChange, type CouponChange } from '../store/coupon-change.ts';

export interface NewCoupon {
  name: string;
  totalQuantity: number;
  startsAt?: Date | null;
  endsAt?: Date | null;
}

export interface CouponView {
  id: number;
  name: string;
  totalQuantity: number;
  remaining: number;
  issuedCount: number;
  startsAt: string | null;
  endsAt: string | null;
}

export interface CouponRow {
  id: number;
  name: string;
  totalQuantity: number;
  issuedCount: number;
  startsAt?: Date | null;
  endsAt?: Date | null;
}

export interface CatalogDeps {
  orm: Orm;
  redis: Redis;
  scripts: AdmissionScripts;
  /**
   * How the shards learn that a coupon changed. By default the Redis broadcast every process hears;
   * the API also tells its own owner first, so the change holds there before it answers.
   */
  announce?: (change: CouponChange) => Promise<void>;
}

/** The broadcast every API process's shard workers subscribe to. */
export async function broadcastCouponChange(redis: Redis, change: CouponChange): Promise<void> {
  await redis.publish(COUPON_CHANGED_CHANNEL, encodeCouponChange(change));
}

function announce(deps: CatalogDeps, change: CouponChange): Promise<void> {
  return deps.announce ? deps.announce(change) : broadcastCouponChange(deps.redis, change);
}

const ms = (d: Date | null | undefined) => (d ? d.getTime() : 0);

/** The coupon in the database, then its admission state in Redis (stock, window). */
export async function createCoupon(deps: CatalogDeps, input: NewCoupon): Promise<CouponView> {
  const em = deps.orm.em.fork();
  const coupon = em.create(Coupon, {
    name: input.name,
    totalQuantity: input.totalQuantity,
    issuedCount: 0,
    startsAt: input.startsAt ?? null,
    endsAt: input.endsAt ?? null,
    createdAt: new Date(),
  });
  await em.flush();
  const remaining = await initCouponState(deps, coupon);
  // A shard that was asked for this id before it existed remembers "not found" for a moment.
  await announce(deps, { kind: 'changed', couponId: coupon.id });
  return toView(coupon, remaining);
}

/** Creates the coupon's Redis state if absent (never resets stock already taken). */
export async function initCouponState({ redis, scripts }: Pick<CatalogDeps, 'redis' | 'scripts'>, coupon: CouponRow): Promise<number> {
  const remaining = await scripts.initCoupon(coupon.id, {
    total: coupon.totalQuantity,
    startsAtMs: ms(coupon.startsAt),
    endsAtMs: ms(coupon.endsAt),
    name: coupon.name,
  });
  await redis.sadd(COUPON_IDS, String(coupon.id));
  return remaining;
}

export async function findCoupon(orm: Orm, couponId: number): Promise<CouponRow | null> {
  return orm.em.fork().findOne(Coupon, { id: couponId });
}

/** Remaining comes from Redis, which decides admission; the database gives the rest. */
export async function getCouponView({ orm, redis }: Pick<CatalogDeps, 'orm' | 'redis'>, couponId: number): Promise<CouponView | null> {
  const coupon = await findCoupon(orm, couponId);
  if (!coupon) return null;
  const stock = await redis.get(couponKeys(couponId).stock);
  return toView(coupon, stock === null ? coupon.totalQuantity - coupon.issuedCount : Number(stock));
}

/**
 * Adds units: the database total first (the record), then Redis stock, then every process is told
 * to forget that the coupon was sold out.
 */
/**
 * The most units a coupon may hold in all: each restock is bounded by the API, but their sum is
 * not, and past the column's range (a signed 32-bit int) the database refuses the update.
 */
export const MAX_TOTAL_QUANTITY = 2_000_000_000;

/** The coupon after `add` more units; null if there is no such coupon, 'OVER_MAX' if it would exceed MAX_TOTAL_QUANTITY. */
export async function addStock(deps: CatalogDeps, couponId: number, add: number): Promise<CouponView | null | 'OVER_MAX'> {
  const em = deps.orm.em.fork();
  const updated = await em.nativeUpdate(Coupon, { id: couponId, totalQuantity: { $lte: MAX_TOTAL_QUANTITY - add } }, { totalQuantity: raw('total_quantity + ?', [add]) });
  if (updated === 0) return (await findCoupon(deps.orm, couponId)) ? 'OVER_MAX' : null;
  const coupon = (await findCoupon(deps.orm, couponId))!;
  let remaining = await deps.scripts.restock(couponId, add);
  if (remaining < 0) remaining = await initCouponState(deps, coupon);
  await announce(deps, { kind: 'changed', couponId });
  return toView(coupon, remaining);
}

export function toView(coupon: CouponRow, remaining: number): CouponView {
  return {
    id: coupon.id,
    name: coupon.name,
    totalQuantity: coupon.totalQuantity,
    remaining: Math.max(0, remaining),
    issuedCount: coupon.issuedCount,
    startsAt: coupon.startsAt ? coupon.startsAt.toISOString() : null,
    endsAt: coupon.endsAt ? coupon.endsAt.toISOString() : null,
  };
}
