import type { Logger } from '../log.ts';
import {
  admissionCounts,
  admittedUserIds,
  hasCouponState,
  initCouponState,
  knownCouponIds,
  pendingEventJsons,
  restoreAdmissions,
} from '../store/coupon-state.ts';
import { findCoupon } from '../store/database/coupons.ts';
import type { Orm } from '../store/database/orm.ts';
import { countIssued, issuedUserIds } from '../store/database/user-coupons.ts';
import { findPublicIds } from '../store/database/users.ts';
import { decodeEvent, encodeEvent, eventKey, newIssueEvent } from '../store/issue-event.ts';
import type { Redis } from '../store/redis.ts';
import type { AdmissionScripts } from '../store/scripts.ts';
import { assess, toRepublish, type PendingEntry } from './assessment.ts';

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
    return knownCouponIds(this.#d.redis);
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

    let restored = false;
    if (!(await hasCouponState(redis, couponId))) {
      await this.#restore(couponId);
      restored = true;
    }

    let republished = 0;
    if (settle) republished = await this.#settle(couponId, graceMs);

    const { admitted, remaining, pending } = await admissionCounts(redis, couponId);
    const issued = await countIssued(orm, couponId);
    const total = coupon.totalQuantity;
    const { duplicates, overIssued, consistent } = assess({
      total,
      admitted,
      remaining,
      persisted: issued.rows,
      persistedUsers: issued.users,
      issuedCount: coupon.issuedCount,
    });
    const report: ReconciliationReport = {
      couponId,
      total,
      admitted,
      remaining,
      persisted: issued.rows,
      pending,
      duplicates,
      overIssued,
      issuedCount: coupon.issuedCount,
      republished,
      restored,
      consistent,
    };
    this.#d.observe?.(report);
    if (!report.consistent) this.#d.logger.warn({ report }, 'reconciliation: coupon not consistent (yet)');
    return report;
  }

  /** Publishes again every admission that should be a row and is not, and is not in flight. */
  async #settle(couponId: number, graceMs: number): Promise<number> {
    const { redis, orm, publish } = this.#d;
    const cutoff = Date.now() - graceMs;
    const pending: PendingEntry[] = [];
    for (const json of await pendingEventJsons(redis, couponId)) {
      try {
        const event = decodeEvent(json);
        pending.push({ json, userId: event.userId, requestedAtMs: Date.parse(event.requestedAt) });
      } catch (err) {
        this.#d.logger.error({ couponId, err }, 'reconciliation: unreadable pending entry');
      }
    }
    const admitted = await admittedUserIds(redis, couponId);
    const persisted = new Set(await issuedUserIds(orm, couponId));
    const { resend, missing } = toRepublish(pending, admitted, persisted, cutoff);
    for (const [userId, publicId] of await findPublicIds(orm, missing)) resend.push(encodeEvent(newIssueEvent(couponId, userId, publicId)));

    await Promise.all(resend.map((json) => publish(eventKey(couponId), json)));
    if (resend.length > 0) this.#d.logger.info({ couponId, republished: resend.length }, 'reconciliation: published admissions again');
    return resend.length;
  }

  /** Redis lost the coupon (no AOF, a flush): rebuild it from the database's rows. */
  async #restore(couponId: number): Promise<void> {
    const { orm, redis, scripts } = this.#d;
    const coupon = (await findCoupon(orm, couponId))!;
    const users = await issuedUserIds(orm, couponId);
    await restoreAdmissions(redis, couponId, users, coupon.totalQuantity - users.length);
    await initCouponState(redis, scripts, coupon);
    this.#d.logger.warn({ couponId, rows: users.length }, 'reconciliation: rebuilt the coupon state in Redis from the database');
  }
}
