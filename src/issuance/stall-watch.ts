/**
 * Which of a consumer's assigned partitions have stopped moving: events are waiting past the
 * committed offset, no batch of the partition is in hand, and none has been handed over for
 * `stallMs`. Kafka clients have been seen to keep fetching a partition from a broker that died
 * after its leadership moved (kafkajs here, once in six runs of the three-broker fault test;
 * librdkafka and sarama have had the same class of bug), and nothing inside the client notices: the
 * group is healthy, the partition is assigned, its lag grows. The consumer restarts its client when
 * this says so. Pure: the consumer feeds it what it sees and the offsets it reads from the brokers.
 */
export class StallWatch {
  readonly #stallMs: number;
  /** Per assigned partition: when it was last seen moving (assigned, handed a batch, or caught up). */
  readonly #movedAt = new Map<number, number>();
  /** Batches in hand per partition (a batch waiting out a database outage is not a stall). */
  readonly #inHand = new Map<number, number>();

  constructor(stallMs: number) {
    this.#stallMs = stallMs;
  }

  /** A new assignment replaces the old one; every partition in it starts its clock now. */
  assigned(partitions: readonly number[], now: number): void {
    this.#movedAt.clear();
    for (const p of partitions) this.#movedAt.set(p, now);
  }

  batchStarted(partition: number, now: number): void {
    this.#inHand.set(partition, (this.#inHand.get(partition) ?? 0) + 1);
    if (this.#movedAt.has(partition)) this.#movedAt.set(partition, now);
  }

  batchEnded(partition: number, now: number): void {
    const n = (this.#inHand.get(partition) ?? 1) - 1;
    if (n > 0) this.#inHand.set(partition, n);
    else this.#inHand.delete(partition);
    if (this.#movedAt.has(partition)) this.#movedAt.set(partition, now);
  }

  /**
   * The stalled partitions, given each partition's end offset and the group's committed offset (or
   * the partition's start, when the group has committed none). A partition missing from either map
   * is not judged: its offsets could not be read.
   */
  check(endOffsets: ReadonlyMap<number, bigint>, committed: ReadonlyMap<number, bigint>, now: number): number[] {
    const stalled: number[] = [];
    for (const [partition, movedAt] of this.#movedAt) {
      const end = endOffsets.get(partition);
      const at = committed.get(partition);
      if (end === undefined || at === undefined) continue;
      if (end <= at) {
        // Caught up: waiting with nothing to read is not a stall, and the clock restarts.
        this.#movedAt.set(partition, now);
        continue;
      }
      if (this.#inHand.has(partition)) continue;
      if (now - movedAt >= this.#stallMs) stalled.push(partition);
    }
    return stalled;
  }
}
