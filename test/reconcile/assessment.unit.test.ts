/** The reconciler's decisions, without Redis or the database. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assess, toRepublish, type CouponCounts, type PendingEntry } from '../../src/reconcile/assessment.ts';

/** A coupon of 10 units, 4 admitted, 4 rows, all agreeing. */
const AGREEING: CouponCounts = { total: 10, admitted: 4, remaining: 6, persisted: 4, persistedUsers: 4, issuedCount: 4 };

describe('assess', () => {
  it('calls a coupon consistent when Redis and the database agree', () => {
    assert.deepEqual(assess(AGREEING), { duplicates: 0, overIssued: 0, consistent: true });
  });

  it('counts rows beyond one per user as duplicates', () => {
    assert.deepEqual(assess({ ...AGREEING, persisted: 5, persistedUsers: 4, issuedCount: 5 }), {
      duplicates: 1,
      overIssued: 0,
      consistent: false,
    });
  });

  it('counts admissions or rows beyond the total as over-issued', () => {
    assert.equal(assess({ ...AGREEING, admitted: 12, remaining: 0 }).overIssued, 2);
    assert.equal(assess({ ...AGREEING, persisted: 11, persistedUsers: 11, issuedCount: 11 }).overIssued, 1);
  });

  it('is not consistent while an admission has no row yet, units went missing, or the issued count lags', () => {
    assert.equal(assess({ ...AGREEING, persisted: 3, persistedUsers: 3, issuedCount: 3 }).consistent, false, 'row pending');
    assert.equal(assess({ ...AGREEING, remaining: 5 }).consistent, false, 'admitted + remaining != total');
    assert.equal(assess({ ...AGREEING, issuedCount: 3 }).consistent, false, 'issued_count behind');
    assert.equal(
      assess({ ...AGREEING, remaining: -1, admitted: 11, persisted: 11, persistedUsers: 11, issuedCount: 11 }).consistent,
      false,
    );
  });
});

describe('toRepublish', () => {
  const entry = (userId: number, requestedAtMs: number): PendingEntry => ({ json: `event-of-${userId}`, userId, requestedAtMs });

  it('sends again the pending entries older than the cutoff, leaving the ones possibly in flight', () => {
    const plan = toRepublish([entry(1, 1_000), entry(2, 5_000), entry(3, 9_000)], [1, 2, 3], new Set(), 5_000);
    assert.deepEqual(plan.resend, ['event-of-1', 'event-of-2']);
    assert.deepEqual(plan.missing, []);
  });

  it('asks for a fresh event for admitted users with neither a row nor a pending entry', () => {
    const plan = toRepublish([entry(2, 9_000)], [1, 2, 3, 4], new Set([3]), 5_000);
    assert.deepEqual(plan.resend, []);
    assert.deepEqual(plan.missing, [1, 4]);
  });

  it('has nothing to do when every admission is a row', () => {
    assert.deepEqual(toRepublish([], [1, 2], new Set([1, 2]), Date.now()), { resend: [], missing: [] });
  });
});
