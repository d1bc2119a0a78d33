import { defineEntity, p } from '@mikro-orm/core';

/**
 * The database is the durable record of who got a coupon. Redis decides admission; these tables
 * are what the consumer writes and what reconciliation compares against.
 */
export const User = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    id: p.integer().primary().autoincrement(),
    publicId: p.string().length(36).unique(),
    name: p.string().length(100),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export const Coupon = defineEntity({
  name: 'Coupon',
  tableName: 'coupons',
  properties: {
    id: p.integer().primary().autoincrement(),
    name: p.string().length(200),
    totalQuantity: p.integer(),
    // Kept true by the consumer in the same transaction as the rows it inserts.
    issuedCount: p.integer().default(0),
    startsAt: p.datetime().nullable(),
    endsAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export const UserCoupon = defineEntity({
  name: 'UserCoupon',
  tableName: 'user_coupons',
  properties: {
    id: p.integer().primary().autoincrement(),
    // No index of its own: the (coupon, user) unique key below starts with coupon_id and serves
    // both the foreign key and every per-coupon query, and one index fewer is a quarter less work
    // per row the consumer inserts.
    coupon: () => p.manyToOne(Coupon).index(false),
    user: () => p.manyToOne(User),
    // The admission's event id: lets an operator trace a row back to its Kafka message.
    eventId: p.string().length(36).unique(),
    issuedAt: p.datetime(),
  },
  // The last line of defence against a double issue: a replayed message inserts nothing.
  uniques: [{ name: 'user_coupons_coupon_user_unique', properties: ['coupon', 'user'] }],
});

export const entities = [User, Coupon, UserCoupon];
