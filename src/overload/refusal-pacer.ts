/**
 * When refusals are answered. A refusal is cheap, but not free: reading the request and writing
 * the 503 cost about half of what an admission costs the main thread. Clients that send again as
 * soon as they are answered — people pressing the button again, k6 virtual users, wrk — turn every
 * fast refusal into the next arrival, and then answering refusals is what keeps the event loop
 * busy: the admission limit sees the late loop, admits fewer, more clients bounce, and admission
 * starves ("Fail at Scale": fast refusals can still starve the work).
 *
 * So refusals are answered at once while the event loop keeps up, and at a paced rate when it
 * does not: each window (100 ms) in which arrivals waited longer than `lagTargetMs` before being
 * read halves the rate (from what was answered), each window on time raises it by half, until it
 * is unpaced again. A refusal beyond the rate waits its turn, oldest first, for at most `maxHoldMs`
 * (the Retry-After it carries), then is answered anyway. A held refusal costs a timer slot, not
 * the CPU; a client waiting for it sends nothing meanwhile. Clients that honour Retry-After never
 * notice: they were not coming back sooner.
 */
export interface RefusalPacerOptions {
  /** Mean wait (ms) of arrivals before the event loop read them since the last call. */
  lag: () => number;
  lagTargetMs: number;
  /** The lowest pace (refusals/s). */
  minRate: number;
  /** The longest a refusal is held (ms). */
  maxHoldMs: number;
  windowMs?: number;
  /** Arms a timer; injected so tests run on a clock of their own. */
  schedule?: (fn: () => void, ms: number) => void;
}

/** Faster than this the pace is lifted. */
const UNPACED = 1_000_000;
const SLOWER = 0.5;
const FASTER = 1.5;

interface Held {
  answer: () => void;
  at: number;
}

export class RefusalPacer {
  readonly #lag: () => number;
  readonly #lagTargetMs: number;
  readonly #minRate: number;
  readonly #maxHoldMs: number;
  readonly #windowMs: number;
  readonly #schedule: (fn: () => void, ms: number) => void;
  /** Refusals per second answered at once (Infinity: unpaced). */
  #rate = Number.POSITIVE_INFINITY;
  #tokens = 0;
  #refilledAt = 0;
  #windowStart = Number.NaN;
  #answeredInWindow = 0;
  readonly #held: Held[] = [];
  #heldFrom = 0;
  #armed = false;
  #heldTotal = 0;

  constructor({ lag, lagTargetMs, minRate, maxHoldMs, windowMs = 100, schedule = (fn, ms) => setTimeout(fn, ms).unref() }: RefusalPacerOptions) {
    this.#lag = lag;
    this.#lagTargetMs = lagTargetMs;
    this.#minRate = minRate;
    this.#maxHoldMs = maxHoldMs;
    this.#windowMs = windowMs;
    this.#schedule = schedule;
  }

  /** Refusals per second answered at once (0: unpaced). */
  get rate(): number {
    return Number.isFinite(this.#rate) ? this.#rate : 0;
  }

  /** Refusals waiting for their turn now. */
  get holding(): number {
    return this.#held.length - this.#heldFrom;
  }

  /** Refusals that had to wait, since start. */
  get heldTotal(): number {
    return this.#heldTotal;
  }

  /** Answers a refusal now or in its turn; `answer` writes it (and must cope with a client gone meanwhile). */
  refuse(answer: () => void, now: number): void {
    this.#roll(now);
    if (this.holding === 0 && this.#take(now)) {
      this.#answeredInWindow++;
      answer();
      return;
    }
    this.#held.push({ answer, at: now });
    this.#heldTotal++;
    this.#arm(now);
  }

  /** Answers what is due at `now`: in its turn, or past its longest hold. Called by the pacer's own timer. */
  release(now: number): void {
    this.#armed = false;
    this.#roll(now);
    while (this.holding > 0) {
      const next = this.#held[this.#heldFrom]!;
      if (!this.#take(now) && now - next.at < this.#maxHoldMs) break;
      this.#heldFrom++;
      this.#answeredInWindow++;
      next.answer();
    }
    if (this.#heldFrom > 1024 && this.#heldFrom * 2 > this.#held.length) {
      this.#held.splice(0, this.#heldFrom);
      this.#heldFrom = 0;
    }
    if (this.holding > 0) this.#arm(now);
  }

  #take(now: number): boolean {
    if (!Number.isFinite(this.#rate)) return true;
    // A burst of one window's worth at most.
    this.#tokens = Math.min(this.#rate * (this.#windowMs / 1000), this.#tokens + ((now - this.#refilledAt) * this.#rate) / 1000);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }

  #arm(now: number): void {
    if (this.#armed) return;
    this.#armed = true;
    const oldest = this.#held[this.#heldFrom]!.at;
    const nextToken = Number.isFinite(this.#rate) ? ((1 - this.#tokens) * 1000) / this.#rate : 0;
    const ms = Math.max(1, Math.min(nextToken, oldest + this.#maxHoldMs - now));
    this.#schedule(() => this.release(performance.now()), ms);
  }

  #roll(now: number): void {
    if (Number.isNaN(this.#windowStart)) this.#windowStart = now;
    const elapsed = now - this.#windowStart;
    if (elapsed < this.#windowMs) return;
    const answeredRate = (this.#answeredInWindow * 1000) / elapsed;
    if (this.#lag() > this.#lagTargetMs) {
      this.#rate = Math.max(this.#minRate, SLOWER * Math.min(this.#rate, answeredRate));
    } else if (Number.isFinite(this.#rate)) {
      this.#rate *= FASTER;
      if (this.#rate > UNPACED) this.#rate = Number.POSITIVE_INFINITY;
    }
    if (this.#tokens > 0 && Number.isFinite(this.#rate)) this.#tokens = Math.min(this.#tokens, this.#rate * (this.#windowMs / 1000));
    this.#refilledAt = now;
    this.#answeredInWindow = 0;
    this.#windowStart = now;
  }
}
