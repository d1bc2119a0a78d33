/**
 * Whether a shard's queue is a standing backlog (overload) or a burst it is working off, after
 * CoDel (Nichols & Jacobson, "Controlling Queue Delay", 2012): what matters is not how long the
 * queue is but whether anything got through it quickly lately. If, over a whole interval, even the
 * request that waited least waited longer than the target, the queue never drained: the shard is
 * overloaded and waiting longer only adds latency. A burst — the opening second of an event —
 * drains, some request goes straight through, and nothing is shed for it.
 */
export interface OverloadOptions {
  /** A wait every request of an interval exceeds only when the queue stands (CoDel's 5 ms). */
  targetMs?: number;
  /** How long the queue must stand before it counts as overload (CoDel's 100 ms). */
  intervalMs?: number;
}

export class OverloadDetector {
  readonly #targetMs: number;
  readonly #intervalMs: number;
  #intervalEnd = Number.NEGATIVE_INFINITY;
  #minWait = 0;
  #overloaded = false;

  constructor({ targetMs = 5, intervalMs = 100 }: OverloadOptions = {}) {
    this.#targetMs = targetMs;
    this.#intervalMs = intervalMs;
  }

  /** Overloaded as of the last completed interval (closing it if `now` is past its end). */
  overloaded(now: number): boolean {
    if (now >= this.#intervalEnd) {
      this.#overloaded = this.#minWait > this.#targetMs;
      this.#minWait = Number.POSITIVE_INFINITY;
      this.#intervalEnd = now + this.#intervalMs;
    }
    return this.#overloaded;
  }

  /** A request left the queue after waiting `waitMs`. */
  dispatched(waitMs: number): void {
    if (waitMs < this.#minWait) this.#minWait = waitMs;
  }

  /** The queue is empty: whatever comes next waits for nothing that is already there. */
  drained(): void {
    this.#minWait = 0;
  }
}
