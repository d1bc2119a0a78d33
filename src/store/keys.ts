/**
 * Redis key names. Every key of one coupon carries the same hash tag `{coupon:<id>}`, so a Lua
 * script that touches them all stays on one slot and runs unchanged on a Redis Cluster.
 */
export interface CouponKeys {
  /** String: units left. Never below zero. */
  stock: string;
  /** Hash: total, startsAt, endsAt (epoch ms, 0 = unbounded), name. */
  meta: string;
  /** Set: user ids admitted. The dedupe. */
  users: string;
  /** Hash: event id -> event JSON, admitted but not yet taken by the consumer. */
  pending: string;
  /** Set: event ids whose admission was given back; the consumer must not persist them. */
  released: string;
}

export function couponKeys(couponId: number): CouponKeys {
  const tag = `{coupon:${couponId}}`;
  return {
    stock: `${tag}:stock`,
    meta: `${tag}:meta`,
    users: `${tag}:users`,
    pending: `${tag}:pending`,
    released: `${tag}:released`,
  };
}

/** Hash: public id -> user id. Lets admission know a user without SQL. */
export const USERS_BY_PUBLIC_ID = 'users:by-public-id';

/** Pub/sub channel on which every process learns that a coupon's cached knowledge is stale. */
export const COUPON_CHANGED_CHANNEL = 'coupon:changed';

/** Set of coupon ids known to Redis, so reconciliation can walk them without SCAN. */
export const COUPON_IDS = 'coupons:ids';
