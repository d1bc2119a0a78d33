/**
 * What a shard worker has learned about its coupons, so that most of a spike is answered from
 * memory. Everything here is a safe shortcut, never the truth: Redis decides admission.
 *
 * - "sold out" and "not open" expire after a short TTL (and are dropped at once when stock is
 *   added), so a missed invalidation costs at most one Redis call per TTL, never a stuck coupon;
 * - an admitted user stays admitted (a release removes them), so a repeat costs no I/O.
 */
export interface KnowledgeOptions {
  soldOutTtlMs?: number;
  closedTtlMs?: number;
  notFoundTtlMs?: number;
  /** Cap on remembered users per coupon; past it repeats simply go to Redis. */
  maxUsersPerCoupon?: number;
  now?: () => number;
}

export type Shortcut = 'SOLD_OUT' | 'NOT_OPEN' | 'COUPON_NOT_FOUND' | 'ALREADY_ISSUED';

interface CouponMemory {
  soldOutUntil: number;
  closedUntil: number;
  notFoundUntil: number;
  users: Set<number>;
}

export class CouponKnowledge {
  readonly #coupons = new Map<number, CouponMemory>();
  readonly #soldOutTtlMs: number;
  readonly #closedTtlMs: number;
  readonly #notFoundTtlMs: number;
  readonly #maxUsers: number;
  readonly #now: () => number;

  constructor(options: KnowledgeOptions = {}) {
    this.#soldOutTtlMs = options.soldOutTtlMs ?? 1_000;
    this.#closedTtlMs = options.closedTtlMs ?? 250;
    this.#notFoundTtlMs = options.notFoundTtlMs ?? 1_000;
    this.#maxUsers = options.maxUsersPerCoupon ?? 1_000_000;
    this.#now = options.now ?? Date.now;
  }

  #memory(couponId: number): CouponMemory {
    let m = this.#coupons.get(couponId);
    if (!m) {
      m = { soldOutUntil: 0, closedUntil: 0, notFoundUntil: 0, users: new Set() };
      this.#coupons.set(couponId, m);
    }
    return m;
  }

  /** The answer memory can give without Redis, or undefined when Redis must decide. */
  shortcut(couponId: number, userId: number): Shortcut | undefined {
    const m = this.#coupons.get(couponId);
    if (!m) return undefined;
    const now = this.#now();
    if (m.notFoundUntil > now) return 'COUPON_NOT_FOUND';
    if (m.closedUntil > now) return 'NOT_OPEN';
    // A winner asking again learns they already have it, even once the coupon is sold out.
    if (m.users.has(userId)) return 'ALREADY_ISSUED';
    if (m.soldOutUntil > now) return 'SOLD_OUT';
    return undefined;
  }

  soldOut(couponId: number): void {
    this.#memory(couponId).soldOutUntil = this.#now() + this.#soldOutTtlMs;
  }

  closed(couponId: number): void {
    this.#memory(couponId).closedUntil = this.#now() + this.#closedTtlMs;
  }

  notFound(couponId: number): void {
    this.#memory(couponId).notFoundUntil = this.#now() + this.#notFoundTtlMs;
  }

  admitted(couponId: number, userId: number): void {
    const m = this.#memory(couponId);
    if (m.users.size < this.#maxUsers) m.users.add(userId);
  }

  released(couponId: number, userId: number): void {
    const m = this.#coupons.get(couponId);
    if (!m) return;
    m.users.delete(userId);
    m.soldOutUntil = 0;
  }

  /** Stock was added or the coupon changed: forget everything but who was admitted. */
  changed(couponId: number): void {
    const m = this.#coupons.get(couponId);
    if (!m) return;
    m.soldOutUntil = 0;
    m.closedUntil = 0;
    m.notFoundUntil = 0;
  }

  /** The coupon was reset (tests, re-seeding): forget it entirely. */
  forget(couponId: number): void {
    this.#coupons.delete(couponId);
  }
}
