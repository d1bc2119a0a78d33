/**
 * When refusals are answered. A refusal is cheap, but not free: reading the request and writing
 * the 503 cost the main thread about half of what an admission does. A client that sends again as
 * soon as it is refused — a script pressing the button in a loop, a k6 virtual user without a
 * sleep, wrk — turns every fast refusal into the next arrival, and then answering refusals is what
 * keeps the core busy: the limit admits fewer, more clients bounce, and admission starves ("Fail
 * at Scale": fast refusals can still starve the work). No limit inside the process can fix that,
 * since it is the answer itself that brings the next request.
 *
 * So a refusal of the very request a connection was refused within `retryAtOnceMs` before — the
 * same user pressing again for the same coupon, sooner than any person presses again and far
 * sooner than the Retry-After it was given — is held for between half and all of that Retry-After
 * from the previous refusal, then answered. The spread is jitter, as in backoff: clients refused in
 * one burst would otherwise come back in one burst, find the process full again and be held again,
 * in waves, with the process idle between them. Such a client costs one refusal per Retry-After
 * instead of one per round trip; a held refusal costs a slot in a list, not the CPU, and its client
 * sends nothing meanwhile. Everyone else is answered at once: a client that honours Retry-After
 * never notices, and an open flood — arrivals that do not wait for answers — gains nothing from
 * holding, so is not held. Nor is another user's request on a connection just refused: a load
 * balancer's pooled connection carries many users, and holding one would block all of them
 * (src/overload/intake-server.ts decides what counts as the same request).
 */
export interface RefusalPacerOptions {
  /** A request refused again this soon after its previous refusal on its connection is coming back at once (ms). */
  retryAtOnceMs: number;
  /** The Retry-After refusals carry (ms): how long such a client is held from its previous refusal. */
  retryAfterMs: number;
  /** How often held refusals are looked at (ms). */
  tickMs?: number;
  /** Uniform in [0, 1): the jitter; injected so tests are deterministic. */
  random?: () => number;
  /** Arms a timer; injected so tests run on a clock of their own. */
  schedule?: (fn: () => void, ms: number) => void;
}

interface Held {
  answer: () => void;
  dueAt: number;
}

export class RefusalPacer {
  readonly #retryAtOnceMs: number;
  readonly #retryAfterMs: number;
  readonly #tickMs: number;
  readonly #schedule: (fn: () => void, ms: number) => void;
  readonly #random: () => number;
  /** Held refusals by when they are due; appended in arrival order, so nearly sorted. */
  #held: Held[] = [];
  #armed = false;
  #heldTotal = 0;

  constructor({
    retryAtOnceMs,
    retryAfterMs,
    tickMs = 10,
    schedule = (fn, ms) => setTimeout(fn, ms).unref(),
    random = Math.random,
  }: RefusalPacerOptions) {
    this.#random = random;
    this.#retryAtOnceMs = retryAtOnceMs;
    this.#retryAfterMs = retryAfterMs;
    this.#tickMs = tickMs;
    this.#schedule = schedule;
  }

  /** Refusals waiting to be answered now. */
  get holding(): number {
    return this.#held.length;
  }

  /** Refusals that were held, since start. */
  get heldTotal(): number {
    return this.#heldTotal;
  }

  /**
   * Answers a refusal of a request arriving at `now` on a connection last refused at
   * `lastRefusedAt` (undefined: not since its last admission): at once, or held.
   * `answer` writes it (and must cope with a client gone meanwhile).
   */
  refuse(answer: () => void, now: number, lastRefusedAt: number | undefined): void {
    if (lastRefusedAt === undefined || now - lastRefusedAt >= this.#retryAtOnceMs) {
      answer();
      return;
    }
    this.#held.push({ answer, dueAt: lastRefusedAt + this.#retryAfterMs * (0.5 + 0.5 * this.#random()) });
    this.#heldTotal++;
    this.#arm();
  }

  /** Answers every held refusal due by `now`. Called by the pacer's own timer. */
  release(now: number): void {
    this.#armed = false;
    const due = this.#held.filter((h) => h.dueAt <= now);
    if (due.length > 0) {
      this.#held = this.#held.filter((h) => h.dueAt > now);
      for (const h of due) h.answer();
    }
    if (this.#held.length > 0) this.#arm();
  }

  #arm(): void {
    if (this.#armed) return;
    this.#armed = true;
    this.#schedule(() => this.release(performance.now()), this.#tickMs);
  }
}
