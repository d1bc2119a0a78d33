import type { AdmissionScripts } from '../admission/scripts.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import type { ApiMetrics } from '../metrics/api-metrics.ts';
import { AdaptiveLimit } from './adaptive-limit.ts';
import { watchLoopWait } from './loop-wait.ts';

/** Why the gate turned a request away. */
export interface Refusal {
  refused: true;
  status: 429 | 503;
  code: 'RATE_LIMITED' | 'UNAVAILABLE';
  retryAfterSeconds: number;
}

const SHED: Refusal = { refused: true, status: 503, code: 'UNAVAILABLE', retryAfterSeconds: 1 };

/** What a shed request is told, wherever it was shed. */
export const OVERLOADED = { code: 'UNAVAILABLE', message: 'Overloaded, retry shortly' } as const;

/**
 * The adaptive limit's floor, so a run of slow windows cannot close admission. Low on purpose: in a
 * flood at twice capacity a floor of 64 (and before it 256) kept the admitted path busy enough to
 * take most of the core, leaving too little to answer the excess, which then queued unread in the
 * kernel (bench/flood.ts); a few admissions in flight at once, batched, still serve thousands a second.
 */
const MIN_IN_FLIGHT = 16;

/**
 * What stands before admission on the issue route: load shedding (a limit on requests in progress
 * in this process, adapted so the process keeps up with arrivals and admitted requests keep their
 * latency target, so a flood beyond capacity gets fast 503s instead of ever-growing latency) and
 * per-user and per-IP rate limits counted in Redis (shared by every API process). The limiter fails
 * open: if Redis cannot count, admission itself will decide (and answer 503 if Redis is down).
 */
export class IssueGate {
  readonly #limits: Config['limits'];
  readonly #exempt: Set<string>;
  readonly #scripts: AdmissionScripts;
  readonly #metrics: ApiMetrics;
  readonly #logger: Logger;
  /** Whether any rate limit is on (then every request not exempt is counted in Redis). */
  readonly #rateLimited: boolean;
  /** Undefined when there is no limit (MAX_IN_FLIGHT=0). */
  readonly #limit: AdaptiveLimit | undefined;
  #inFlight = 0;

  constructor(limits: Config['limits'], scripts: AdmissionScripts, metrics: ApiMetrics, logger: Logger) {
    this.#limits = limits;
    this.#exempt = new Set(limits.exempt);
    this.#scripts = scripts;
    this.#metrics = metrics;
    this.#logger = logger;
    this.#rateLimited = limits.perUser > 0 || limits.perIp > 0;
    const { maxInFlight, inFlightTargetMs, loopDelayTargetMs } = limits;
    // A fixed cap is an adaptive limit whose floor is its ceiling.
    this.#limit = maxInFlight === 0 ? undefined
      : inFlightTargetMs === 0 ? new AdaptiveLimit({ max: maxInFlight, min: maxInFlight, targetMs: Number.POSITIVE_INFINITY })
      : new AdaptiveLimit({
        max: maxInFlight,
        min: Math.min(MIN_IN_FLIGHT, maxInFlight),
        targetMs: inFlightTargetMs,
        ...(loopDelayTargetMs > 0 ? { lag: watchLoopWait(), lagTargetMs: loopDelayTargetMs } : {}),
      });
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** The in-flight limit as it stands (0: none). */
  get limit(): number {
    return this.#limit?.limit ?? 0;
  }

  /**
   * Whether a new issue request must be shed now. Cheap enough to ask before the request is routed:
   * under a flood, answering the excess must cost far less than serving it.
   */
  full(): boolean {
    if (this.#limit === undefined || this.#inFlight < this.#limit.limit) return false;
    this.#limit.refused(performance.now());
    this.#metrics.countInFlightShed();
    return true;
  }

  /** Runs `work` if the gate lets the request through; the refusal otherwise. */
  through<T>(ip: string, publicId: string, work: () => Promise<T>): Promise<T | Refusal> {
    if (this.full()) return Promise.resolve(SHED);
    this.#inFlight++;
    const startedAt = performance.now();
    const done = () => {
      this.#inFlight--;
      this.#limit?.completed(startedAt, performance.now());
    };
    // Every issue request passes here: without limits to count, no extra promise on the way.
    const counted = this.#rateLimited && !this.#exempt.has(ip);
    const result: Promise<T | Refusal> = counted ? this.#rateLimit(ip, publicId).then<T | Refusal>((limited) => limited ?? work()) : work();
    result.then(done, done);
    return result;
  }

  async #rateLimit(ip: string, publicId: string): Promise<Refusal | undefined> {
    const { perUser, perIp, windowMs } = this.#limits;
    try {
      const [user, byIp] = await Promise.all([
        perUser > 0 ? this.#scripts.countInWindow(`rl:user:${publicId}`, windowMs) : undefined,
        perIp > 0 ? this.#scripts.countInWindow(`rl:ip:${ip}`, windowMs) : undefined,
      ]);
      const over = user && user.count > perUser ? { scope: 'user', resetMs: user.resetMs }
        : byIp && byIp.count > perIp ? { scope: 'ip', resetMs: byIp.resetMs } : undefined;
      if (!over) return undefined;
      this.#metrics.rateLimited.inc({ scope: over.scope });
      return { refused: true, status: 429, code: 'RATE_LIMITED', retryAfterSeconds: Math.max(1, Math.ceil(over.resetMs / 1000)) };
    } catch (err) {
      this.#metrics.rateLimited.inc({ scope: 'error' });
      this.#logger.warn({ err }, 'rate limiter unavailable; letting the request through');
      return undefined;
    }
  }
}

export function isRefusal(value: unknown): value is Refusal {
  return typeof value === 'object' && value !== null && 'refused' in value;
}
