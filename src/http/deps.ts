import type { AdmissionOutcome, AdmissionRequest } from '../admission/outcome.ts';
import type { AdmissionScripts } from '../admission/scripts.ts';
import type { Config } from '../config.ts';
import type { CouponChange } from '../shards/coupon-change.ts';
import type { Orm } from '../db/orm.ts';
import type { ApiMetrics } from '../metrics/api-metrics.ts';
import type { OverloadControl } from '../overload/overload-control.ts';
import type { RateLimiter } from '../overload/rate-limiter.ts';
import type { Reconciler } from '../reconcile/reconciler.ts';
import type { Redis } from '../redis.ts';

/** What the HTTP layer needs from the rest of the process; tests build the app with real ones. */
export interface AppDeps {
  config: Config;
  orm: Orm;
  redis: Redis;
  scripts: AdmissionScripts;
  /** Hands an issue request to the shard worker that owns its coupon. */
  admit: (request: AdmissionRequest, arrivedAt: number) => Promise<AdmissionOutcome>;
  /** Tells every shard that a coupon changed: this process's owner at once, the others through Redis. */
  announce: (change: CouponChange) => Promise<void>;
  /** Whether an issue request is taken in now, and how refusals are answered. */
  overload: OverloadControl;
  /** Per-user and per-IP limits in front of admission. */
  rateLimiter: RateLimiter;
  reconciler: Reconciler;
  metrics: ApiMetrics;
  /** Each dependency's health, for /health/ready. */
  readiness: () => Promise<Record<string, boolean>>;
}
