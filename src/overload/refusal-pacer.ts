/**
 * When refusals are answered. A refusal is cheap, but not free: reading the request and writing
 * the 503 cost about half of what an admission costs the main thread. Clients that send again as
 * soon as they are answered — people pressing the button again, k6 virtual users, wrk — turn every
 * fast refusal into the next arrival, and then answering refusals is what keeps the core busy: the
 * workers and the event loop fall behind, the admission limit takes in fewer, more clients bounce,
 * and admission starves ("Fail at Scale": fast refusals can still starve the work).
 *
 * So refusals are answered at once only as fast as requests are being served (`share` of the
 * previous window's rate, and never slower than `minRate`): however fast clients come back,
 * refusing can never take the core from serving. A refusal beyond that pace waits its turn, oldest
 * first, for at most `maxHoldMs` (the Retry-After it carries), then is answered anyway. A held
 * refusal costs a timer slot, not the CPU, and a client waiting for it sends nothing meanwhile;
 * clients that honour Retry-After never notice, since they were not coming back sooner. An open
 * flood at twice capacity refuses about as many as it serves and is answered at once.
 */
export interface RefusalPacerOptions {
  /** Refusals answered at once per request served. */
  share: number;
  /** The slowest pace (refusals/s). */
  minRate: number;
  /** The longest a refusal is held (ms). */
  maxHoldMs: number;
  windowMs?: number;
  /** Arms a timer; injected so tests run on a clock of their own. */
  schedule?: (fn: () => void, ms: number) => void;
}


interface Held {
  answer: () => void;
  at: number;
}

export class RefusalPacer {
  readonly #share: number;
  readonly #minRate: number;
  readonly #maxHoldMs: number;
  readonly #windowMs: number;
  readonly #schedule: (fn: () => void, ms: number) => void;
  /** Refusals per second answered at once (Infinity until the first window has been measured). */
  #rate = Number.POSITIVE_INFINITY;
  #servedInWindow = 0;
  #tokens = 0;
  #refilledAt = 0;
  #windowStart = Number.NaN;
  readonly #held: Held[] = [];
  #heldFrom = 0;
  #armed = false;
  #heldTotal = 0;

  constructor({ share, minRate, maxHoldMs, windowMs = 100, schedule = (fn, ms) => setTimeout(fn, ms).unref() }: RefusalPacerOptions) {
    this.#share = share;
    this.#minRate = minRate;
    this.#maxHoldMs = maxHoldMs;
    this.#windowMs = windowMs;
    this.#schedule = schedule;
  }

  /** Refusals per second answered at once (0 before it was measured). */
  get rate(): number {
    return Number.isFinite(this.#rate) ? this.#rate : 0;
  }

  /** A request was served (answered after being taken in). */
  served(now: number): void {
    this.#roll(now);
    this.#servedInWindow++;
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
    this.#refill(now);
    // (Less a rounding error: tokens accrue in fractions.)
    if (this.#tokens < 1 - 1e-9) return false;
    this.#tokens--;
    return true;
  }

  /** Tokens accrue at the pace, a window's worth at most (the largest burst answered at once). */
  #refill(now: number): void {
    this.#tokens = Math.min(this.#rate * (this.#windowMs / 1000), this.#tokens + ((now - this.#refilledAt) * this.#rate) / 1000);
    this.#refilledAt = now;
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
    const first = !Number.isFinite(this.#rate);
    if (!first) this.#refill(now);
    this.#rate = Math.max(this.#minRate, (this.#share * this.#servedInWindow * 1000) / elapsed);
    const burst = this.#rate * (this.#windowMs / 1000);
    this.#tokens = first ? burst : Math.min(this.#tokens, burst);
    this.#refilledAt = now;
    this.#servedInWindow = 0;
    this.#windowStart = now;
  }
}
