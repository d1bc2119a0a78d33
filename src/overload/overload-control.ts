import type { Config } from '../config.ts';
import { AdmissionLimit } from './admission-limit.ts';
import { watchLoopWait } from './loop-wait.ts';
import { RefusalPacer } from './refusal-pacer.ts';
import { overloaded } from './refusal.ts';

/**
 * Before the limit has measured anything, the process takes in this many at once: enough for an
 * event's opening burst to be served whole, few enough to be worked off within the target on a
 * slow machine; the first busy window replaces it with a measured one.
 */
const INITIAL_LIMIT = 512;
/**
 * The limit never goes below FLOOR_LIMIT while the event loop keeps up (a burst of that size is
 * served whole, even by a process whose code is still cold), nor below MIN_LIMIT at all: a few
 * requests always go through, so throughput keeps being measured.
 */
const FLOOR_LIMIT = 256;
const MIN_LIMIT = 16;
/** A request refused again this soon after its previous refusal on its connection is coming back at once (ms). */
const RETRY_AT_ONCE_MS = 100;
const WINDOW_MS = 100;

/** What the overload control shows /metrics, read at scrape time. */
export interface OverloadState {
  inFlight: number;
  limit: number;
  throughput: number;
  refusalsHolding: number;
  refusalsHeld: number;
}

/**
 * Everything that decides whether an issue request is taken in now, in one place: the admission
 * limit (Little's law on measured throughput and a latency target, scaled down while arrivals wait
 * for the main thread's event loop: src/overload/admission-limit.ts) and when refusals are answered
 * (a client coming back at once is held until its Retry-After: src/overload/refusal-pacer.ts). MAX_IN_FLIGHT=0 turns it off (nothing is
 * refused; the bench compares against that); IN_FLIGHT_TARGET_MS=0 makes MAX_IN_FLIGHT a fixed cap.
 */
export class OverloadControl {
  readonly #limit: AdmissionLimit | undefined;
  readonly #pacer: RefusalPacer | undefined;
  #untracked = 0;
  #stuck: () => boolean = () => false;

  constructor(limits: Pick<Config['limits'], 'maxInFlight' | 'inFlightTargetMs' | 'loopDelayTargetMs'>) {
    const { maxInFlight, inFlightTargetMs, loopDelayTargetMs } = limits;
    if (maxInFlight === 0) return;
    if (inFlightTargetMs === 0) {
      this.#limit = new AdmissionLimit({ targetMs: Number.POSITIVE_INFINITY, min: maxInFlight, max: maxInFlight, initial: maxInFlight });
      return;
    }
    const lag = loopDelayTargetMs > 0 ? sampledOncePerWindow(watchLoopWait(), WINDOW_MS) : () => 0;
    const lagNoiseMs = loopDelayTargetMs > 0 ? loopDelayTargetMs : Number.POSITIVE_INFINITY;
    this.#limit = new AdmissionLimit({
      targetMs: inFlightTargetMs,
      floor: Math.min(FLOOR_LIMIT, maxInFlight),
      min: Math.min(MIN_LIMIT, maxInFlight),
      max: maxInFlight,
      initial: Math.min(INITIAL_LIMIT, maxInFlight),
      windowMs: WINDOW_MS,
      lag,
      lagNoiseMs,
    });
    this.#pacer = new RefusalPacer({ retryAtOnceMs: RETRY_AT_ONCE_MS, retryAfterMs: overloaded().retryAfterSeconds * 1000 });
  }

  /**
   * The event-loop backstop's verdict (@fastify/under-pressure's, which guards the other routes),
   * given once the app has it: while it holds, issue requests are refused before routing, where a
   * refusal costs least (src/overload/intake-server.ts).
   */
  useBackstop(stuck: () => boolean): void {
    this.#stuck = stuck;
  }

  /** Whether the event-loop backstop refuses everything now. */
  stuck(): boolean {
    return this.#stuck();
  }

  /** Takes a place for an issue request arriving now, or says it must be refused. */
  enter(now: number): boolean {
    if (this.#limit === undefined) {
      this.#untracked++;
      return true;
    }
    return this.#limit.tryEnter(now);
  }

  /** A request that entered has been answered. */
  leave(now: number): void {
    if (this.#limit === undefined) this.#untracked--;
    else this.#limit.leave(now);
  }

  /**
   * Answers a refusal at once, or, to a client coming back at once with the request refused at
   * `lastRefusedAt`, when its Retry-After has passed (`answer` must cope with a client gone
   * meanwhile).
   */
  refuse(answer: () => void, now: number, lastRefusedAt: number | undefined): void {
    if (this.#pacer) this.#pacer.refuse(answer, now, lastRefusedAt);
    else answer();
  }

  get inFlight(): number {
    return this.#limit?.inSystem ?? this.#untracked;
  }

  state(): OverloadState {
    return {
      inFlight: this.inFlight,
      limit: this.#limit?.limit ?? 0,
      throughput: this.#limit?.throughput ?? 0,
      refusalsHolding: this.#pacer?.holding ?? 0,
      refusalsHeld: this.#pacer?.heldTotal ?? 0,
    };
  }
}

/** One reading of a windowed signal shared by several readers: each read of `read` starts a new window. */
function sampledOncePerWindow(read: () => number, windowMs: number): () => number {
  let at = Number.NEGATIVE_INFINITY;
  let value = 0;
  return () => {
    const now = performance.now();
    if (now - at >= windowMs) {
      value = read();
      at = now;
    }
    return value;
  };
}
