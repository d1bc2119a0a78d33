/**
 * How many issue requests the process takes in at once, from Little's law: a process that
 * completes λ requests a second and holds N of them keeps each about N / λ. So to keep requests
 * within a latency target T, it may hold λ × T; a request arriving beyond that would wait longer
 * than T and is turned away at once, before it costs anything (the newest arrival is the one
 * refused: everyone already inside keeps their place in line).
 *
 * λ is the throughput the process showed in windows it was busy through (one in which it stood
 * empty a tenth of the time or more says how much was asked, not how much it can do), the median
 * of the last second's windows: the shard workers batch, so the more is queued the more they serve
 * per second, and the limit rises with the load instead of refusing it, once half the last second
 * shows it. Not the best window: under a large closed loop, batches coming back together make
 * some windows serve far more than the second does, and a limit built on the best of them holds
 * requests well past the target (docs/overload.md). A closed loop of clients that hold N requests
 * in the process is never refused while N / λ(N) stays within T.
 *
 * A window in which nobody was turned away and requests stayed within the target measured demand,
 * not capacity: a small closed loop keeps the process busy at a fraction of what it can do. Such a
 * window may raise λ, never lower it (as TCP and BBR leave their estimates alone while the sender
 * is application-limited). Learning from it made the limit of a quiet moment the limit at the next
 * burst's start, and let one window's dip of throughput, with nobody waiting longer for it, refuse
 * a steady loop the process was serving within the target. A window that turned arrivals away, or
 * in which requests stayed longer than the target, the event loop's wait included (the process
 * slowed under the load it has), counts either way, unless the process held no more than its floor
 * while the loop kept up.
 *
 * The main thread is the other place requests wait, unread in the kernel while the event loop is
 * busy, where no time measured inside the process sees them. That wait comes out of the same
 * target: when arrivals wait longer than `lagNoiseMs` on average (src/overload/loop-wait.ts) two
 * windows in a row, the limit is built on what is left of the target once the slowest of them
 * has waited (twice the mean), down to `min` when nothing is left. Admitting fewer is what frees
 * the thread, since a refusal costs less than an admission. One late window is a pause (a
 * collection, code being compiled), not a backlog. Gentler than scaling the limit by how late the
 * loop is: a closed loop's answered batches come back together and wait a few ms for the loop,
 * which is no reason to refuse what would be served well within the target (docs/overload.md).
 */
export interface AdmissionLimitOptions {
  /** The time in the process (ms) the limit keeps requests to: waiting for a shard worker and served. */
  targetMs: number;
  /**
   * Never fewer than this while the event loop keeps up, whatever λ says: a burst of that size is
   * served whole even by a process that is slow (just started, its code still cold).
   */
  floor?: number;
  /** Never fewer than this at all: something is always served, and λ keeps being measured. */
  min: number;
  /** Never more than this, whatever λ says (memory, and a bound on a bad estimate). */
  max: number;
  /** The limit before the first measurement. */
  initial: number;
  windowMs?: number;
  /** How many of the latest measured windows λ is the median of. */
  memory?: number;
  /** Mean wait (ms) of arrivals before the event loop read them since the last call. */
  lag?: () => number;
  /** Mean waits up to this (ms) are noise, not counted against the target. */
  lagNoiseMs?: number;
}

/** A window with less idle time than this share of it counts as busy. */
const BUSY_IDLE_SHARE = 0.1;
/**
 * How many times the mean wait for the event loop a request is charged. A backlog the loop drains
 * at a steady pace holds waits spread evenly from none to twice their mean, so the last request
 * of it, the one the latency target is about, waited twice the mean.
 */
const LAG_CHARGED = 2;

export class AdmissionLimit {
  readonly #targetMs: number;
  readonly #floor: number;
  readonly #min: number;
  readonly #max: number;
  readonly #windowMs: number;
  readonly #lag: () => number;
  readonly #lagNoiseMs: number;
  /** Throughput (requests/ms) of the latest busy windows, newest last. */
  readonly #rates: number[] = [];
  readonly #memory: number;
  #limit: number;
  #inSystem = 0;
  #windowStart = Number.NaN;
  #completed = 0;
  /** Time (ms) the process held no request in the current window, and since when it holds none. */
  #idleMs = 0;
  #idleSince = Number.NaN;
  #lastLag = 0;
  /** Arrivals refused in the current window. */
  #refused = 0;
  /** The integral of #inSystem over the current window (request-ms), up to #areaAt. */
  #area = 0;
  #areaAt = Number.NaN;
  /** The limit as λ alone makes it, before the event loop's wait is taken out. */
  #unscaled: number;

  constructor({
    targetMs,
    floor = 0,
    min,
    max,
    initial,
    windowMs = 100,
    memory = 10,
    lag = () => 0,
    lagNoiseMs = Number.POSITIVE_INFINITY,
  }: AdmissionLimitOptions) {
    if (!(min >= 1 && max >= min)) throw new RangeError(`need 1 <= min <= max, got min ${min}, max ${max}`);
    this.#targetMs = targetMs;
    this.#floor = floor;
    this.#min = min;
    this.#max = max;
    this.#windowMs = windowMs;
    this.#memory = memory;
    this.#lag = lag;
    this.#lagNoiseMs = lagNoiseMs;
    this.#limit = Math.min(max, Math.max(min, initial));
    this.#unscaled = this.#limit;
  }

  get limit(): number {
    return this.#limit;
  }

  get inSystem(): number {
    return this.#inSystem;
  }

  /** The throughput (requests/s) the limit is built on; 0 before the first measurement. */
  get throughput(): number {
    return this.#rate() * 1000;
  }

  /** Requests/ms: the median of the latest busy windows (the upper one of an even count); 0 before any. */
  #rate(): number {
    if (this.#rates.length === 0) return 0;
    const sorted = [...this.#rates].sort((x, y) => x - y);
    return sorted[Math.floor(sorted.length / 2)]!;
  }

  /** Takes a place for a request arriving at `now` (performance.now() ms), or says there is none. */
  tryEnter(now: number): boolean {
    this.#roll(now);
    if (this.#inSystem >= this.#limit) {
      this.#refused++;
      return false;
    }
    this.#accumulate(now);
    if (this.#inSystem++ === 0 && !Number.isNaN(this.#idleSince)) this.#idleMs += now - this.#idleSince;
    return true;
  }

  /** A request that entered has been answered. */
  leave(now: number): void {
    this.#roll(now);
    this.#accumulate(now);
    this.#inSystem--;
    this.#completed++;
    if (this.#inSystem === 0) this.#idleSince = now;
  }

  #accumulate(now: number): void {
    if (!Number.isNaN(this.#areaAt)) this.#area += this.#inSystem * (now - this.#areaAt);
    this.#areaAt = now;
  }

  #roll(now: number): void {
    if (Number.isNaN(this.#windowStart)) this.#windowStart = now;
    const elapsed = now - this.#windowStart;
    if (elapsed < this.#windowMs) return;
    if (this.#inSystem === 0)
      this.#idleMs += now - (Number.isNaN(this.#idleSince) ? this.#windowStart : Math.max(this.#idleSince, this.#windowStart));
    this.#accumulate(now);
    const lag = this.#lag();
    // Late two windows in a row, by the lesser of the two.
    const late = Math.min(lag, this.#lastLag);
    this.#lastLag = lag;
    // Time spent unread comes out of the same budget as time inside: a request that waited for the
    // loop has that much less of the target left.
    const charged = late > this.#lagNoiseMs ? LAG_CHARGED * late : 0;
    if (this.#idleMs < elapsed * BUSY_IDLE_SHARE && this.#completed > 0) {
      const rate = this.#completed / elapsed;
      // Little again: the mean time in the process over the window is its area over what left.
      // Few requests kept long while the loop keeps up (a process just started, opening its
      // connections) are the floor's business: that many are served whole however slow the
      // process, so they say nothing of how many more it could hold.
      const demandOnly =
        this.#refused === 0 &&
        (this.#area / this.#completed + charged <= this.#targetMs || (charged === 0 && this.#area / elapsed <= this.#floor));
      // Demand alone confirms the estimate it does not raise: remembered as the estimate itself,
      // so the windows that turn arrivals away do not make the whole of the memory.
      let sample: number | undefined = rate;
      if (demandOnly && rate * this.#targetMs <= this.#unscaled) sample = this.#rates.length > 0 ? Math.max(rate, this.#rate()) : undefined;
      if (sample !== undefined) {
        this.#rates.push(sample);
        if (this.#rates.length > this.#memory) this.#rates.shift();
      }
    }
    if (this.#rates.length > 0) {
      this.#unscaled = Math.min(this.#max, Math.max(this.#min, Math.floor(Math.max(this.#floor, this.#rate() * this.#targetMs))));
    }
    // Before anything is measured too: the initial limit is what a late loop scales down then.
    const scale = charged > 0 ? Math.max(0, this.#targetMs - charged) / this.#targetMs : 1;
    this.#limit = Math.min(this.#max, Math.max(this.#min, Math.floor(this.#unscaled * scale)));
    this.#completed = 0;
    this.#refused = 0;
    this.#area = 0;
    this.#idleMs = 0;
    this.#idleSince = now;
    this.#windowStart = now;
  }
}
