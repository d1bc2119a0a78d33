import type { Orm } from '../db/orm.ts';
import type { Redis } from '../redis.ts';
import { COUPON_IDS, couponKeys } from '../admission/keys.ts';
import type { AdmissionScripts } from '../admission/scripts.ts';
import { findCoupon, initCouponState } from '../catalog/coupons.ts';
import { decodeEvent, encodeEvent, eventKey, newIssueEvent } from '../issuance/event.ts';
import type { Logger } from '../log.ts';

export interface ReconciliationReport {
  couponId: number;
  total: number;
  /** Users Redis admitted. */
  admitted: number;
  /** Units Redis has left. */
  remaining: number;
  /** Rows in the database. */
  persisted: number;
  /** Admissions not yet taken by the consumer. */
  pending: number;
  /** Rows beyond one per user (the unique key should make this 0). */
  duplicates: number;
  /** Admissions or rows beyond the total. */
  overIssued: number;
  /** The coupon's issued_count column, kept by the consumer. */
  issuedCount: number;
  /** Events published again by this run: orphaned admissions and admitted users with no row. */
  republished: number;
  /** True when Redis had no state for the coupon and this run rebuilt it from the database. */
  restored: boolean;
  consistent: boolean;
}

export interface ReconcilerDeps {
  orm: Orm;
  redis: Redis;
  scripts: AdmissionScripts;
  /** Publishes an issue event and resolves when Kafka acknowledged it. */
  publish: (key: string, value: string) => Promise<void>;
  logger: Logger;
  observe?: (report: ReconciliationReport) => void;
}

export interface ReconcileOptions {
  /** Pending admissions younger than this may still be in flight in a live API process. */
  graceMs?: number;
  /** Whether to publish again what was admitted but never persisted. Off: only report. */
  settle?: boolean;
}

/**
 * Compares Redis (who was admitted) with the database (who got a row), coupon by coupon, and
 * settles what a crash left behind. Settling only ever publishes issue events again: the consumer
 * inserts at most one row per (coupon, user), so publishing twice is harmless, while giving stock
 * back could break a promise already made with a 202.
 */
export class Reconciler {
  readonly #d: ReconcilerDeps;

  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
  }

  async couponIds(): Promise<number[]> {
    const ids = await this.#d.redis.smembers(COUPON_IDS);
    return ids.map(Number).sort((a, b) => a - b);
  }

  async reconcileAll(options: ReconcileOptions = {}): Promise<ReconciliationReport[]> {
    const reports: ReconciliationReport[] = [];
    for (const id of await this.couponIds()) {
      const report = await this.reconcile(id, options);
      if (report) reports.push(report);
    }
    return reports;
  }

  async reconcile(couponId: number, { graceMs = 10_000, settle = true }: ReconcileOptions = {}): Promise<ReconciliationReport | null> {
    const { orm, redis } = this.#d;
    const coupon = await findCoupon(orm, couponId);
    if (!coupon) return null;
    const keys = couponKeys(couponId);

    let restored = false;
    if (!(await redis.exists(keys.stock))) {
      await this.#restore(couponId);
      restored = true;
    }

    let republished = 0;
    if (settle) republished = await this.#settle(couponId, graceMs);

    const [admitted, stock, pending] = await Promise.all([redis.scard(keys.users), redis.get(keys.stock), redis.hlen(keys.pending)]);
    const remaining = Number(stock ?? 0);
    const [row] = (await orm.em.getConnection().execute(
      'select count(*) as persisted, count(distinct user_id) as users from user_coupons where coupon_id = ?',
      [couponId],
    )) as { persisted: number | string; users: number | string }[];
    const persisted = Number(row!.persisted);
    const duplicates = persisted - Number(row!.users);
    const total = coupon.totalQuantity;
    const overIssued = Math.max(0, admitted - total, persisted - total);
    const report: ReconciliationReport = {
      couponId,
      total,
      admitted,
      remaining,
      persisted,
      pending,
      duplicates,
      overIssued,
      issuedCount: coupon.issuedCount,
      republished,
      restored,
      consistent:
        duplicates === 0 && overIssued === 0 && remaining >= 0 && admitted + remaining === total &&
        persisted === admitted && coupon.issuedCount === persisted,
    };
    this.#d.observe?.(report);
    if (!report.consistent) this.#d.logger.warn({ report }, 'reconciliation: coupon not consistent (yet)');
    return report;
  }

  /** Publishes again every admission that should be a row and is not, and is not in flight. */
  async #settle(couponId: number, graceMs: number): Promise<number> {
    const { redis, orm, publish } = this.#d;
    const keys = couponKeys(couponId);
    const cutoff = Date.now() - graceMs;
    const pending = await redis.hgetall(keys.pending);
    const pendingUsers = new Set<number>();
    const resend: string[] = [];
    for (const json of Object.values(pending)) {
      try {
        const event = decodeEvent(json);
        pendingUsers.add(event.userId);
        if (Date.parse(event.requestedAt) <= cutoff) resend.push(json);
      } catch (err) {
        this.#d.logger.error({ couponId, err }, 'reconciliation: unreadable pending entry');
      }
    }

    // Admitted users with neither a row nor a pending event: their event was taken by a consumer
    // that then failed (dead-lettered) or was lost; a fresh event makes the row.
    const admitted = (await redis.smembers(keys.users)).map(Number).filter(Number.isSafeInteger);
    const rows = (await orm.em.getConnection().execute('select user_id from user_coupons where coupon_id = ?', [couponId])) as { user_id: number }[];
    const persisted = new Set(rows.map((r) => Number(r.user_id)));
    const publicIds = await this.#publicIds(admitted.filter((u) => !persisted.has(u) && !pendingUsers.has(u)));
    for (const [userId, publicId] of publicIds) resend.push(encodeEvent(newIssueEvent(couponId, userId, publicId)));

    await Promise.all(resend.map((json) => publish(eventKey(couponId), json)));
    if (resend.length > 0) this.#d.logger.info({ couponId, republished: resend.length }, 'reconciliation: published admissions again');
    return resend.length;
  }

  async #publicIds(userIds: number[]): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    if (userIds.length === 0) return out;
    const rows = (await this.#d.orm.em.getConnection().execute(
      `select id, public_id from users where id in (${userIds.map(() => '?').join(',')})`,
      userIds,
    )) as { id: number; public_id: string }[];
    for (const r of rows) out.set(Number(r.id), r.public_id);
    return out;
  }

  /** Redis lost the coupon (no AOF, a flush): rebuild it from the database's rows. */
  async #restore(couponId: number): Promise<void> {
    const { orm, redis, scripts } = this.#d;
    const coupon = (await findCoupon(orm, couponId))!;
    const rows = (await orm.em.getConnection().execute('select user_id from user_coupons where coupon_id = ?', [couponId])) as { user_id: number }[];
    const keys = couponKeys(couponId);
    if (rows.length > 0) await redis.sadd(keys.users, ...rows.map((r) => String(r.user_id)));
    await redis.set(keys.stock, String(Math.max(0, coupon.totalQuantity - rows.length)), 'NX');
    await initCouponState({ redis, scripts }, coupon);
    this.#d.logger.warn({ couponId, rows: rows.length }, 'reconciliation: rebuilt the coupon state in Redis from the database');
  }
}
