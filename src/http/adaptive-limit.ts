/**
 * How many issue requests may be in progress at once, steered so that the process keeps up with
 * what arrives. A fixed cap only bounds latency at one throughput: the same requests in flight are
 * little work on a quiet machine and many times more on a loaded one. So, after TCP's
 * congestion control and Netflix's concurrency-limits (AIMD), each window (100 ms) looks at two
 * signals and:
 *
 * - shrinks the limit when more than 1 % of the requests completed in it took longer than the
 *   target inside the process (by a fifth), or when arriving requests waited longer than a target
 *   on average before the main thread's event loop read them, two windows in a row (in proportion
 *   to how long, at most by half). The second signal is the one a flood trips: the main thread is
 *   where every request is read and answered, shed ones included, and while admitted work keeps it
 *   (or the core it shares with the shard workers) saturated, requests wait unread in the kernel,
 *   where no latency measured inside the process can see them. Only admitting fewer frees the time
 *   to read them: a shed request costs less than half of an admitted one (bench/flood.ts);
 * - grows when a window kept to both targets (a window in which nothing completed changes
 *   nothing): by a tenth, but by only a fiftieth from four fifths of where it last had to shrink,
 *   for as long as that was less than five seconds ago (TCP CUBIC's idea: probe carefully near the
 *   point that last overloaded). Saturation is a cliff, not a slope: requests wait unread only once
 *   the core is full, and the late loop is noticed two windows later, so growing by a tenth a window
 *   ran a flood well past the cliff each time, the admitted rate climbing far above what the core
 *   serves and then collapsing into long waits (bench/flood.ts prints it second by second).
 *
 * It only moves in windows in which it turned requests away. A limit that holds nobody back is not
 * what keeps the process behind: a process just started, still compiling its code, is slow under a
 * light load too, and shrinking then only sheds the next small pile-up (the CI smoke profile's light
 * load got 503s that way on a slow machine). In a flood it binds at once.
 *
 * It starts at its ceiling and never goes below its floor. A process that has just started runs
 * cold code, and under a flood it sheds more until its code is warm: that is what it can take.
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
  /**
   * How long (ms) requests arriving since the previous call waited on average before the event loop
   * read them (src/http/loop-wait.ts); each call starts a new window. Absent: not watched.
   */
  lag?: () => number;
  /** That wait above which the limit shrinks. */
  lagTargetMs?: number;
}

/** Share of a window's requests allowed over the target before the limit shrinks (its p99). */
const SLOW_SHARE = 0.01;
/**
 * Gentler than TCP's halving when only admitted requests are slow: an API restarted cold into a
 * storm is slow for a second. A late event loop is the flood's signal and is answered harder (down
 * to half) in proportion to how late it was.
 */
const DECREASE = 0.8;
const MOST_DECREASE = 0.5;
const INCREASE = 0.1;
/** Growth near where the limit last shrank, and how near (a share of that point) and for how long it counts as near. */
const PROBE_INCREASE = 0.02;
const PROBE_FROM = 0.8;
const REMEMBER_MS = 5_000;

export class AdaptiveLimit {
  readonly #max: number;
  readonly #min: number;
  readonly #targetMs: number;
  readonly #windowMs: number;
  readonly #lag: () => number;
  readonly #lagTargetMs: number;
  #limit: number;
  #windowEnd = Number.NEGATIVE_INFINITY;
  /** When the limit last shrank: requests started before it say nothing about the new limit. */
  #changedAt = Number.NEGATIVE_INFINITY;
  /** The limit it last shrank from. */
  #shrunkFrom = Number.POSITIVE_INFINITY;
  #completed = 0;
  #slow = 0;
  #refused = false;
  /** Windows in a row in which arrivals waited longer than the target. */
  #lateWindows = 0;

  constructor({ max, min, targetMs, windowMs = 100, lag = () => 0, lagTargetMs = Number.POSITIVE_INFINITY }: AdaptiveLimitOptions) {
    if (!(min >= 1 && max >= min)) throw new RangeError(`need 1 <= min <= max, got min ${min}, max ${max}`);
    this.#max = max;
    this.#min = min;
    this.#targetMs = targetMs;
    this.#windowMs = windowMs;
    this.#lag = lag;
    this.#lagTargetMs = lagTargetMs;
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
    const lag = this.#lag();
    const slow = this.#completed > 0 && this.#slow > this.#completed * SLOW_SHARE;
    // A late loop counts from the second window in a row (CoDel's interval): one long pause, a
    // garbage collection or code being compiled, is not a backlog.
    this.#lateWindows = lag > this.#lagTargetMs ? this.#lateWindows + 1 : 0;
    const lagging = this.#lateWindows >= 2;
    if (!this.#refused) {
      // Not binding: nothing to learn about the limit.
    } else if (slow || lagging) {
      const factor = lagging ? Math.max(MOST_DECREASE, Math.min(DECREASE, this.#lagTargetMs / lag)) : DECREASE;
      const shrunk = Math.max(this.#min, Math.floor(this.#limit * factor));
      if (shrunk < this.#limit) {
        this.#changedAt = now;
        this.#shrunkFrom = this.#limit;
        this.#limit = shrunk;
      }
    } else if (this.#completed > 0 && this.#lateWindows === 0) {
      const near = this.#limit >= this.#shrunkFrom * PROBE_FROM && now - this.#changedAt < REMEMBER_MS;
      this.#limit = Math.min(this.#max, this.#limit + Math.max(1, Math.round(this.#limit * (near ? PROBE_INCREASE : INCREASE))));
    }
    this.#completed = 0;
    this.#slow = 0;
    this.#refused = false;
    this.#windowEnd = now + this.#windowMs;
  }
}
