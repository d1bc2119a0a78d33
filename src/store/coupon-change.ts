import { COUPON_CHANGED_CHANNEL } from './keys.ts';
import type { Redis } from './redis.ts';

/**
 * The message published on COUPON_CHANGED_CHANNEL when a coupon's cached knowledge must go:
 * "changed" (stock added, window edited) keeps who was admitted; "reset" forgets everything.
 */
export interface CouponChange {
  kind: 'changed' | 'reset';
  couponId: number;
}

export function encodeCouponChange(change: CouponChange): string {
  return `${change.kind}:${change.couponId}`;
}

export function parseCouponChange(message: string): CouponChange | undefined {
  const [kind, id] = message.split(':');
  const couponId = Number(id);
  if ((kind !== 'changed' && kind !== 'reset') || !Number.isSafeInteger(couponId)) return undefined;
  return { kind, couponId };
}

/** Tells every process's shard workers (they subscribe to COUPON_CHANGED_CHANNEL) that a coupon changed. */
export async function broadcastCouponChange(redis: Redis, change: CouponChange): Promise<void> {
  await redis.publish(COUPON_CHANGED_CHANNEL, encodeCouponChange(change));
}
