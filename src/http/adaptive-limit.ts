/**
 * How many issue requests may be in progress at once, steered so that admitted requests take no
 * longer than a target inside the process. A fixed cap only bounds latency at one throughput: the
 * same 2,048 requests in flight are 100 ms of work on a quiet machine and a second of it on a
 * loaded one, and beyond the cap's worth the wait just moves into the queues (router, worker,
 * Kafka) where no one sheds. So, after TCP's congestion control and Netflix's concurrency-limits
 * (AIMD): when more than 1 % of the requests completed in a window took longer than the target,
 * the limit shrinks by a fifth; when a window's requests kept to the target and the limit turned
 * requests away, it grows by a tenth (a window in which nothing completed changes nothing). It
 * starts at its ceiling, so the first second of an event opening is served in full, and never goes
 * below its floor.
 */
export interface AdaptiveLimitOptions {
  /** The ceiling, and where the limit starts. */
  max: number;
  /** The floor. */
  min: number;
  /** Latency (ms, inside the process) the admitted requests should stay under. */
  targetMs: number;
  /** How often the limit is reconsidered. */
  windowMs?: number;
}

/** Share of a window's requests allowed over the target before the limit shrinks (its p99). */
const SLOW_SHARE = 0.01;
/**
 * Gentler than TCP's halving: an API restarted cold into a storm is slow for a second, and halving
 * brought it below the storm's 256 connections and into 503s (test/e2e/storm.test.ts); at a
 * flood's onset halving would get to the floor sooner (bench/flood.ts: p99 from due 0.54 s, not
 * 0.7-2.2 s), a trade not taken.
 */
const DECREASE = 0.8;
const INCREASE = 0.1;

export class AdaptiveLimit {
  readonly #max: number;
  readonly #min: number;
  readonly #targetMs: number;
  readonly #windowMs: number;
  #limit: number;
  #windowEnd = Number.NEGATIVE_INFINITY;
  /** When the limit last shrank: requests started before it say nothing about the new limit. */
  #changedAt = Number.NEGATIVE_INFINITY;
  #completed = 0;
  #slow = 0;
  #refused = false;

  constructor({ max, min, targetMs, windowMs = 100 }: AdaptiveLimitOptions) {
    if (!(min >= 1 && max >= min)) throw new RangeError(`need 1 <= min <= max, got min ${min}, max ${max}`);
    this.#max = max;
    this.#min = min;
    this.#targetMs = targetMs;
    this.#windowMs = windowMs;
    this.#limit = max;
  }

  get limit(): number {
    return this.#limit;
  }

  /** A request that started at `startedAt` finished at `now` (performance.now() ms). */
  completed(startedAt: number, now: number): void {
    this.#roll(now);
    if (startedAt < this.#changedAt) return;
    this.#completed++;
    if (now - startedAt > this.#targetMs) this.#slow++;
  }

  /** The limit turned a request away: there is demand beyond it. */
  refused(now: number): void {
    this.#roll(now);
    this.#refused = true;
  }

  #roll(now: number): void {
    if (now < this.#windowEnd) return;
    if (this.#completed > 0 && this.#slow > this.#completed * SLOW_SHARE) {
      const shrunk = Math.max(this.#min, Math.floor(this.#limit * DECREASE));
      if (shrunk < this.#limit) this.#changedAt = now;
      this.#limit = shrunk;
    } else if (this.#refused && this.#completed > 0) {
      this.#limit = Math.min(this.#max, this.#limit + Math.max(1, Math.round(this.#limit * INCREASE)));
    }
    this.#completed = 0;
    this.#slow = 0;
    this.#refused = false;
    this.#windowEnd = now + this.#windowMs;
  }
}
