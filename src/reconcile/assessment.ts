/**
 * The reconciler's decisions, apart from the I/O that gathers their inputs: whether a coupon's
 * Redis and database agree, and which admissions must be published again.
 */

/** What Redis and the database say about one coupon. */
export interface CouponCounts {
  /** The coupon's total units (database). */
  total: number;
  /** Users Redis admitted. */
  admitted: number;
  /** Units Redis has left. */
  remaining: number;
  /** Rows in the database. */
  persisted: number;
  /** Distinct users among those rows. */
  persistedUsers: number;
  /** The coupon's issued_count column, kept by the consumer. */
  issuedCount: number;
}

export interface Assessment {
  /** Rows beyond one per user (the unique key should make this 0). */
  duplicates: number;
  /** Admissions or rows beyond the total. */
  overIssued: number;
  consistent: boolean;
}

/**
 * Consistent: no double issue, nothing beyond the total, every unit either admitted or left, every
 * admission a row, and the issued count matching the rows.
 */
export function assess(c: CouponCounts): Assessment {
  const duplicates = c.persisted - c.persistedUsers;
  const overIssued = Math.max(0, c.admitted - c.total, c.persisted - c.total);
  const consistent =
    duplicates === 0 &&
    overIssued === 0 &&
    c.remaining >= 0 &&
    c.admitted + c.remaining === c.total &&
    c.persisted === c.admitted &&
    c.issuedCount === c.persisted;
  return { duplicates, overIssued, consistent };
}

/** A pending entry read back: its user, and when it was admitted. */
export interface PendingEntry {
  json: string;
  userId: number;
  requestedAtMs: number;
}

export interface Republishing {
  /** Pending entries old enough that their admission is no longer in flight: sent again as they are. */
  resend: string[];
  /** Admitted users with neither a row nor a pending entry: each needs a fresh event. */
  missing: number[];
}

/**
 * What to publish again. A pending entry younger than `cutoffMs` may still be on its way in a live
 * API process and is left alone. An admitted user with neither a row nor a pending entry had their
 * event taken by a consumer that then failed (dead-lettered) or lost; a fresh event makes the row.
 * Publishing twice is harmless (the consumer inserts at most one row per user and coupon).
 */
export function toRepublish(
  pending: readonly PendingEntry[],
  admitted: readonly number[],
  persisted: ReadonlySet<number>,
  cutoffMs: number,
): Republishing {
  const pendingUsers = new Set(pending.map((p) => p.userId));
  return {
    resend: pending.filter((p) => p.requestedAtMs <= cutoffMs).map((p) => p.json),
    missing: admitted.filter((u) => !persisted.has(u) && !pendingUsers.has(u)),
  };
}
