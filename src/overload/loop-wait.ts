/**
 * How long a request arriving at a random moment waits before the main thread's event loop reads
 * it, averaged over a window: the signal that the process no longer keeps up with what arrives,
 * which no latency measured inside the process can see (the request is still in the kernel).
 *
 * A timer due every `intervalMs` fires late by about the length of the turn it waited for. An arrival
 * during a turn of length T waits T/2 on average, and lands in it with probability T/window, so the
 * mean wait is Σ T² / (2 × window). A turn still running when the window is read counts for what
 * it has lasted so far: a loop stuck for the whole window reads as badly late, not as idle. Short,
 * frequent turns read as almost nothing; a single 30 ms GC pause in 100 ms reads as 4.5 ms.
 */
export class LoopWait {
  readonly #intervalMs: number;
  #last: number;
  #windowStart: number;
  #sumSquares = 0;

  constructor(intervalMs: number, now: number) {
    this.#intervalMs = intervalMs;
    this.#last = now;
    this.#windowStart = now;
  }

  /** The timer fired at `now`. */
  tick(now: number): void {
    const late = now - this.#last - this.#intervalMs;
    if (late > 0) this.#sumSquares += late * late;
    this.#last = now;
  }

  /** The mean wait (ms) since the last read, and a new window begun. */
  read(now: number): number {
    const running = now - this.#last - this.#intervalMs;
    const sumSquares = this.#sumSquares + (running > 0 ? running * running : 0);
    const windowMs = now - this.#windowStart;
    this.#sumSquares = 0;
    this.#windowStart = now;
    // What is still running is counted again in the next window from where it stands then.
    if (running > 0) this.#sumSquares -= running * running;
    return windowMs > 0 ? sumSquares / (2 * windowMs) : 0;
  }
}

/** A LoopWait driven by a timer on this thread's event loop (unref'd: it keeps no process alive). */
export function watchLoopWait(intervalMs = 5): () => number {
  const wait = new LoopWait(intervalMs, performance.now());
  setInterval(() => wait.tick(performance.now()), intervalMs).unref();
  return () => wait.read(performance.now());
}
