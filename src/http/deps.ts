import type { AdmissionOutcome, AdmissionRequest } from '../admission/outcome.ts';
import type { AdmissionScripts } from '../store/scripts.ts';
import type { Config } from '../config.ts';
import type { CouponChange } from '../store/coupon-change.ts';
import type { Orm } from '../store/database/orm.ts';
import type { ApiMetrics } from '../metrics/api-metrics.ts';
import type { IssueGate } from './issue-gate.ts';
import type { Reconciler } from '../reconcile/reconciler.ts';
import type { Redis } from '../store/redis.ts';

/** What the HTTP layer needs from the rest of the process; tests build the app with real ones. */
export interface AppDeps {
  config: Config;
  orm: Orm;
  redis: Redis;
  scripts: AdmissionScripts;
  /** Hands an issue request to the shard worker that owns its coupon. */
  admit: (request: AdmissionRequest) => Promise<AdmissionOutcome>;
  /** Tells every shard that a coupon changed: this process's owner at once, the others through Redis. */
  announce: (change: CouponChange) => Promise<void>;
  /** Load shedding and rate limits in front of admission. */
  gate: IssueGate;
  reconciler: Reconciler;
  metrics: ApiMetrics;
  /** Each dependency's health, for /health/ready. */
  readiness: () => Promise<Record<string, boolean>>;
}
