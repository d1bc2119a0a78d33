import { broadcastCouponChange, type CouponChange } from '../store/coupon-change.ts';
import { initCouponState, remainingStock } from '../store/coupon-state.ts';
import { addToTotalQuantity, findCoupon, insertCoupon, type CouponRow } from '../store/database/coupons.ts';
import type { Orm } from '../store/database/orm.ts';
import type { Redis } from '../store/redis.ts';
import type { AdmissionScripts } from '../store/scripts.ts';

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

function announce(deps: CatalogDeps, change: CouponChange): Promise<void> {
  return deps.announce ? deps.announce(change) : broadcastCouponChange(deps.redis, change);
}

/** The coupon in the database, then its admission state in Redis (stock, window). */
export async function createCoupon(deps: CatalogDeps, input: NewCoupon): Promise<CouponView> {
  const coupon = await insertCoupon(deps.orm, {
    name: input.name,
    totalQuantity: input.totalQuantity,
    startsAt: input.startsAt ?? null,
    endsAt: input.endsAt ?? null,
  });
  const remaining = await initCouponState(deps.redis, deps.scripts, coupon);
  // A shard that was asked for this id before it existed remembers "not found" for a moment.
  await announce(deps, { kind: 'changed', couponId: coupon.id });
  return toView(coupon, remaining);
}

/** Remaining comes from Redis, which decides admission; the database gives the rest. */
export async function getCouponView({ orm, redis }: Pick<CatalogDeps, 'orm' | 'redis'>, couponId: number): Promise<CouponView | null> {
  const coupon = await findCoupon(orm, couponId);
  if (!coupon) return null;
  const stock = await remainingStock(redis, couponId);
  return toView(coupon, stock ?? coupon.totalQuantity - coupon.issuedCount);
}

/**
 * The most units a coupon may hold in all: each restock is bounded by the API, but their sum is
 * not, and past the column's range (a signed 32-bit int) the database refuses the update.
 */
export const MAX_TOTAL_QUANTITY = 2_000_000_000;

/**
 * Adds units: the database total first (the record), then Redis stock, then every process is told
 * to forget that the coupon was sold out. The coupon after `add` more units; null if there is no
 * such coupon, 'OVER_MAX' if it would exceed MAX_TOTAL_QUANTITY.
 */
export async function addStock(deps: CatalogDeps, couponId: number, add: number): Promise<CouponView | null | 'OVER_MAX'> {
  if (!(await addToTotalQuantity(deps.orm, couponId, add, MAX_TOTAL_QUANTITY))) {
    return (await findCoupon(deps.orm, couponId)) ? 'OVER_MAX' : null;
  }
  const coupon = (await findCoupon(deps.orm, couponId))!;
  let remaining = await deps.scripts.restock(couponId, add);
  if (remaining < 0) remaining = await initCouponState(deps.redis, deps.scripts, coupon);
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

/** The coupon use cases the HTTP layer is handed, bound to their stores. */
export interface CouponCatalog {
  create(input: NewCoupon): Promise<CouponView>;
  view(couponId: number): Promise<CouponView | null>;
  addStock(couponId: number, add: number): Promise<CouponView | null | 'OVER_MAX'>;
}

export function couponCatalog(deps: CatalogDeps): CouponCatalog {
  return {
    create: (input) => createCoupon(deps, input),
    view: (couponId) => getCouponView(deps, couponId),
    addStock: (couponId, add) => addStock(deps, couponId, add),
  };
}
