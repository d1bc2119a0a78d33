import { rememberUsers } from '../store/known-users.ts';
import { findUser, insertUsers, type UserIds } from '../store/database/users.ts';
import { issuedCouponsOf, type IssuedCoupon } from '../store/database/user-coupons.ts';
import type { Orm } from '../store/database/orm.ts';
import type { Redis } from '../store/redis.ts';

export type CreatedUser = UserIds;

/** Inserts users in one statement and makes them known to admission (Redis) at once. */
export async function createUsers(orm: Orm, redis: Redis, names: readonly string[]): Promise<CreatedUser[]> {
  const created = await insertUsers(orm, names);
  await rememberUsers(redis, created);
  return created;
}

/** A user's issued coupons, oldest first; null when there is no such user. */
export async function couponsOfUser(orm: Orm, publicId: string): Promise<IssuedCoupon[] | null> {
  const user = await findUser(orm, publicId);
  return user ? issuedCouponsOf(orm, user.id) : null;
}

/** The user use cases the HTTP layer is handed, bound to their stores. */
export interface UserAccounts {
  create(name: string): Promise<CreatedUser>;
  couponsOf(publicId: string): Promise<IssuedCoupon[] | null>;
}

export function userAccounts(orm: Orm, redis: Redis): UserAccounts {
  return {
    create: async (name) => (await createUsers(orm, redis, [name]))[0]!,
    couponsOf: (publicId) => couponsOfUser(orm, publicId),
  };
}
