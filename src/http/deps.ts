import type { AdmissionOutcome, AdmissionRequest } from '../admission/outcome.ts';
import type { CouponCatalog } from '../catalog/coupons.ts';
import type { UserAccounts } from '../catalog/users.ts';
import type { Config } from '../config.ts';
import type { IssueStatus } from '../issuance/status.ts';
import type { ApiMetrics } from '../metrics/api-metrics.ts';
import type { OverloadControl } from '../overload/overload-control.ts';
import type { RateLimiter } from '../overload/rate-limiter.ts';
import type { Reconciler } from '../reconcile/reconciler.ts';

/**
 * What the HTTP layer needs from the rest of the process: use cases bound to their stores, never
 * the ORM or Redis themselves (routes hold no queries). Tests build the app with real ones.
 */
export interface AppDeps {
  config: Config;
  users: UserAccounts;
  coupons: CouponCatalog;
  /** Hands an issue request to the shard worker that owns its coupon. */
  admit: (request: AdmissionRequest, arrivedAt: number) => Promise<AdmissionOutcome>;
  /** Where a user's issue request for a coupon stands. */
  issueStatus: (couponId: number, publicId: string) => Promise<IssueStatus>;
  /** Whether an issue request is taken in now, and how refusals are answered. */
  overload: OverloadControl;
  /** Per-user and per-IP limits in front of admission. */
  rateLimiter: RateLimiter;
  reconciler: Reconciler;
  metrics: ApiMetrics;
  /** Each dependency's health, for /health/ready. */
  readiness: () => Promise<Record<string, boolean>>;
}
