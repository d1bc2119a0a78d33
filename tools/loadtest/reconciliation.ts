/**
 * The end-of-run check: asks GET /api/coupons/{id}/reconciliation until the consumer has persisted
 * every admission (consistent, nothing pending), and fails at once on any over-issue or duplicate.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface ReconciliationReport {
  couponId?: number;
  total?: number;
  admitted: number;
  remaining: number;
  persisted: number;
  pending?: number;
  duplicates: number;
  overIssued: number;
  issuedCount?: number;
  republished?: number;
  consistent: boolean;
}

export interface ReconciliationCheck {
  ok: boolean;
  reason: string;
  waitedMs: number;
  report: ReconciliationReport | null;
}

export async function fetchReconciliation(baseUrl: string, couponId: number, adminToken: string): Promise<ReconciliationReport> {
  const res = await fetch(`${baseUrl}/api/coupons/${couponId}/reconciliation`, {
    headers: { authorization: `Bearer ${adminToken}` },
    signal: AbortSignal.timeout(30_000),
  });
  if (res.status !== 200) throw new Error(`reconciliation answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as ReconciliationReport;
}

/** The verdict on one report: null while it may still settle, else the final word. */
export function judge(report: ReconciliationReport): { done: boolean; ok: boolean; reason: string } {
  if (report.overIssued > 0) return { done: true, ok: false, reason: `over-issued by ${report.overIssued}` };
  if (report.duplicates > 0) return { done: true, ok: false, reason: `${report.duplicates} duplicate rows` };
  if (report.consistent && (report.pending ?? 0) === 0) return { done: true, ok: true, reason: 'consistent' };
  return {
    done: false,
    ok: false,
    reason: `not consistent yet: admitted ${report.admitted}, persisted ${report.persisted}, pending ${report.pending ?? '?'}`,
  };
}

export async function awaitReconciliation(
  baseUrl: string,
  couponId: number,
  adminToken: string,
  timeoutMs = 120_000,
  everyMs = 1_000,
): Promise<ReconciliationCheck> {
  const started = Date.now();
  let last: ReconciliationReport | null = null;
  let reason = 'no answer';
  for (;;) {
    try {
      last = await fetchReconciliation(baseUrl, couponId, adminToken);
      const verdict = judge(last);
      reason = verdict.reason;
      if (verdict.done) return { ok: verdict.ok, reason, waitedMs: Date.now() - started, report: last };
    } catch (err) {
      reason = (err as Error).message;
    }
    if (Date.now() - started > timeoutMs)
      return { ok: false, reason: `after ${Math.round(timeoutMs / 1000)} s: ${reason}`, waitedMs: Date.now() - started, report: last };
    await sleep(everyMs);
  }
}
