import type { AdmissionOutcome, AdmissionRequest } from '../admission/outcome.ts';
import type { CouponCatalog } from '../catalog/coupons.ts';
import type { UserAccounts } from '../catalog/users.ts';
import type { Config } from '../config.ts';
import type { IssueStatus } from '../issuance/status.ts';
import type { ApiMetrics } from '../metrics/api-metrics.ts';
import type { Reconciler } from '../reconcile/reconciler.ts';
import type { IssueGate } from './issue-gate.ts';

/**
 * What the HTTP layer needs from the rest of the process: use cases bound to their stores, never
 * the ORM or Redis themselves (routes hold no queries). Tests build the app with real ones.
 */
export interface AppDeps {
  config: Config;
  users: UserAccounts;
  coupons: CouponCatalog;
  /** Hands an issue request to the shard worker that owns its coupon. */
  admit: (request: AdmissionRequest) => Promise<AdmissionOutcome>;
  /** Where a user's issue request for a coupon stands. */
  issueStatus: (couponId: number, publicId: string) => Promise<IssueStatus>;
  /** Load shedding and rate limits in front of admission. */
  gate: IssueGate;
  reconciler: Reconciler;
  metrics: ApiMetrics;
  /** Each dependency's health, for /health/ready. */
  readiness: () => Promise<Record<string, boolean>>;
}
