/**
 * Requests waiting for their shard worker, in arrival order. First come, first served is the
 * product's promise, so a request is never overtaken: batches leave from the head. The queue is
 * bounded by time, not by count (how many may wait is the admission limit's business, and it
 * refuses the newest arrivals): a request that has waited `maxWaitMs` without reaching its worker
 * (a worker stalled, a dependency gone) is answered rather than kept, oldest first, each after the
 * same wait.
 */
export class ArrivalQueue<T> {
  #items: { item: T; arrivedAt: number }[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T, arrivedAt: number): void {
    this.#items.push({ item, arrivedAt });
  }

  /** Up to `max` requests from the head, each with how long it waited (ms). */
  take(max: number, now: number): { items: T[]; waitsMs: number[] } {
    const n = Math.min(max, this.length);
    const items: T[] = new Array(n);
    const waitsMs: number[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const entry = this.#items[this.#head + i]!;
      items[i] = entry.item;
      waitsMs[i] = now - entry.arrivedAt;
    }
    this.#advance(n);
    return { items, waitsMs };
  }

  /** Removes and returns, from the head, the requests that have waited `maxWaitMs` or longer (none if 0). */
  expire(now: number, maxWaitMs: number): T[] {
    if (maxWaitMs <= 0) return [];
    let n = 0;
    while (n < this.length && now - this.#items[this.#head + n]!.arrivedAt >= maxWaitMs) n++;
    return n === 0 ? [] : this.take(n, now).items;
  }

  #advance(n: number): void {
    this.#head += n;
    // Compact once the dead prefix is most of the array: amortised O(1) per request.
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
