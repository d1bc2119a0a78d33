import { isAdmitted } from '../store/coupon-state.ts';
import type { Orm } from '../store/database/orm.ts';
import { couponAndIssue } from '../store/database/user-coupons.ts';
import { findUser } from '../store/database/users.ts';
import type { Redis } from '../store/redis.ts';

/** Where a user's issue request for a coupon stands, or why there is no such request to ask about. */
export type IssueStatus = 'ISSUED' | 'PENDING' | 'NOT_ISSUED' | 'USER_NOT_FOUND' | 'COUPON_NOT_FOUND';

/**
 * ISSUED once the row exists (the database is the record); PENDING while Redis admitted the user
 * and the consumer has not written the row yet; NOT_ISSUED otherwise.
 */
export async function issueStatus(orm: Orm, redis: Redis, couponId: number, publicId: string): Promise<IssueStatus> {
  const user = await findUser(orm, publicId);
  if (!user) return 'USER_NOT_FOUND';
  const { couponExists, issued } = await couponAndIssue(orm, couponId, user.id);
  if (!couponExists) return 'COUPON_NOT_FOUND';
  if (issued) return 'ISSUED';
  return (await isAdmitted(redis, couponId, user.id)) ? 'PENDING' : 'NOT_ISSUED';
}
