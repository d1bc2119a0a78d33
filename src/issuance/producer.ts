import { connect } from 'node:net';
import {
  CompressionTypes,
  type Admin,
  type Kafka,
  type Message,
  type PartitionMetadata,
  type Producer,
  type RecordMetadata,
} from 'kafkajs';
import { PARTITIONER } from '../store/kafka.ts';

export interface PublishObserver {
  /** Called once per broker round trip with its outcome and how many messages it carried. */
  sent(seconds: number, messages: number, ok: boolean): void;
}

export interface IssueEventProducerOptions {
  kafka: Kafka;
  topic: string;
  /** The most messages one produce request carries. */
  maxBatch?: number;
  /** How long one send may take, retries included, before its callers are told it failed. */
  sendTimeoutMs?: number;
  /** After a failed send, how long each probe of the broker may take. */
  pauseAfterFailureMs?: number;
  observer?: PublishObserver;
}

/** Keys whose partition is remembered: far more coupons than one event has open at once. */
const REMEMBERED_KEYS = 10_000;

interface Waiting {
  message: Message;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** One partition's messages waiting for its leader's lane, and whether sends to it are trusted. */
interface PartitionQueue {
  queue: Waiting[];
  /** A send to it failed, and its leader has not been seen reachable since. */
  suspect: boolean;
}

/** How often the partitions' leaders are asked again while nothing fails (a moved leader only costs isolation). */
const LEADER_REFRESH_MS = 60_000;

/**
 * An idempotent, acks=all producer that group-commits per leader: while one produce request to a
 * broker is in flight, new messages for the partitions it leads wait and then leave together in
 * the next request.
 * Under a spike this turns thousands of sends into a few round trips, and each caller's promise
 * still settles only when the broker has acknowledged its own message.
 *
 * Leaders are independent lanes: one request at a time to each, carrying every partition it leads
 * that has messages waiting, so an event of many coupons shares kafkajs's cost per request (about
 * 200 µs of CPU) instead of paying it per partition; and a leader that dies stalls and refuses only
 * its own partitions' coupons while the others flow. A message is acknowledged only if the broker's
 * answer names its partition: kafkajs 2.2.4 resolves a send whose retry moved a partition to a
 * broker that had already answered without ever writing it (tulios/kafkajs#1303), a 202 without a
 * row if taken on trust.
 */
export class IssueEventProducer {
  readonly #kafka: Kafka;
  #producer: Producer;
  readonly #topic: string;
  readonly #maxBatch: number;
  readonly #sendTimeoutMs: number;
  readonly #observer: PublishObserver | undefined;
  readonly #pauseAfterFailureMs: number;
  readonly #partitionQueues = new Map<number, PartitionQueue>();
  /** Each partition's leader (broker node id), as the cluster last told; a partition not in it has a lane of its own. */
  readonly #leaderOf = new Map<number, number>();
  #leadersAskedAt = 0;
  #askingLeaders = false;
  /** Lanes with a drain running. */
  readonly #draining = new Set<number>();
  /** Messages published before the partition count is known. */
  #unplaced: Waiting[] = [];
  #placing = false;
  /** Sends in flight per producer, so a replaced one is disconnected only once they have settled. */
  readonly #sending = new Map<Producer, number>();
  readonly #replaced = new Set<Producer>();
  #connecting: Promise<void> | undefined;
  #connected = false;
  /** The producer could not connect: every partition is refused until it can. */
  #suspect = false;
  #probing = false;
  readonly #admin: Admin;
  readonly #partitioner = PARTITIONER();
  #partitions: Promise<number> | undefined;
  #partitionCount: number | undefined;
  /** What the partitioner is told of the partitions: only their number matters to it. */
  #partitionMetadata: { partitionId: number; leader: number; replicas: number[]; isr: number[] }[] = [];
  readonly #partitionOfKey = new Map<string, number>();

  constructor({ kafka, topic, maxBatch = 2_000, sendTimeoutMs = 5_000, pauseAfterFailureMs = 1_000, observer }: IssueEventProducerOptions) {
    this.#kafka = kafka;
    this.#producer = this.#newProducer();
    this.#admin = kafka.admin();
    this.#topic = topic;
    this.#maxBatch = maxBatch;
    this.#sendTimeoutMs = sendTimeoutMs;
    this.#observer = observer;
    this.#pauseAfterFailureMs = pauseAfterFailureMs;
  }

  #newProducer(): Producer {
    const producer = this.#kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: PARTITIONER,
    });
    // A replaced producer still reports its own disconnect: only the current one's events count.
    producer.on(producer.events.CONNECT, () => {
      if (producer === this.#producer) this.#connected = true;
    });
    producer.on(producer.events.DISCONNECT, () => {
      if (producer === this.#producer) this.#forgetConnection();
    });
    return producer;
  }

  /** The next send or probe connects (again), and until then the producer counts as not connected. */
  #forgetConnection(): void {
    this.#connected = false;
    this.#connecting = undefined;
  }

  /**
   * An idempotent producer numbers its messages per partition, and kafkajs takes the numbers of a
   * failed send back. If the broker had appended that batch and only its acknowledgement was lost,
   * the next batch of the same size would carry the same numbers and the broker would take it for
   * a retry: acknowledged, never written, a 202 with nothing behind it (and a batch of another size
   * refused as out of order, then every one after it). So a producer whose send failed is not used
   * for another send; its replacement gets a new producer id, whose numbering starts apart. Sends
   * already in flight on it, to other partitions, are let finish: their numbering is their own.
   */
  #replaceProducer(failed: Producer): void {
    if (failed !== this.#producer) return;
    this.#producer = this.#newProducer();
    this.#forgetConnection();
    this.#replaced.add(failed);
    this.#disconnectIfIdle(failed);
  }

  #disconnectIfIdle(producer: Producer): void {
    if (!this.#replaced.has(producer) || (this.#sending.get(producer) ?? 0) > 0) return;
    this.#replaced.delete(producer);
    this.#sending.delete(producer);
    // Its failed send may still be retrying inside kafkajs. Whatever lands from it was released
    // (the consumer skips it) or was consumed first (the admitter then keeps the promise).
    void producer.disconnect().catch(() => undefined);
  }

  /** Whether the producer holds a live connection (and, being idempotent, a producer id). */
  get connected(): boolean {
    return this.#connected;
  }

  /** Whether every partition can be sent to, as far as this producer knows. */
  get available(): boolean {
    return !this.#suspect && ![...this.#partitionQueues.values()].some((p) => p.suspect);
  }

  /**
   * False from a failed send until the broker answers again: callers answer 503 at once instead
   * of each waiting out the send timeout against a leader that is down. Per partition: when one
   * leader dies, only the keys on its partitions are refused. A cheap metadata request and a TCP
   * connect to the leader probe meanwhile, so no issue event is risked on a probe.
   */
  availableFor(key: string): boolean {
    if (this.#suspect) return false;
    if (this.#partitionCount === undefined) return true;
    return !this.#partitionQueues.get(this.#partitionOf(key, this.#partitionCount))?.suspect;
  }

  #startProbing(): void {
    if (this.#probing) return;
    this.#probing = true;
    void (async () => {
      while (!this.available) {
        try {
          if (this.#suspect) {
            await withTimeout(this.connect(), this.#pauseAfterFailureMs);
            this.#suspect = false;
          }
          await this.#probeLeaders();
        } catch {
          // A seed broker that died would be asked again and again: the next probe picks another.
          await this.#admin.disconnect().catch(() => undefined);
        }
        if (!this.available) await new Promise((r) => setTimeout(r, this.#pauseAfterFailureMs / 2));
      }
      this.#probing = false;
    })();
  }

  /**
   * Every partition this producer sends to is judged by its leader, as the cluster names it now:
   * trusted if the leader accepts a TCP connection, suspect if not. A dead leader refuses until the
   * controller has elected another, which then accepts; and the other partitions the dead broker
   * led are refused at once, before a send of theirs waits out its timeout against it. A send that
   * failed for another reason (too few in-sync replicas) fails again and is suspected again; only
   * that partition's keys pay for it.
   */
  async #probeLeaders(): Promise<void> {
    if (this.#partitionQueues.size === 0) return;
    const [, { brokers }] = await withTimeout(
      this.#admin.connect().then(() => Promise.all([this.#askPartitions(), this.#admin.describeCluster()])),
      this.#pauseAfterFailureMs,
    );
    const leaders = new Map<number, Promise<boolean>>();
    const leaderUp = (nodeId: number | undefined): Promise<boolean> => {
      const broker = brokers.find((b) => b.nodeId === nodeId);
      if (!broker) return Promise.resolve(false);
      let up = leaders.get(broker.nodeId);
      if (!up) leaders.set(broker.nodeId, (up = reachable(broker.host, broker.port, this.#pauseAfterFailureMs)));
      return up;
    };
    await Promise.all(
      [...this.#partitionQueues].map(async ([partition, p]) => {
        p.suspect = !(await leaderUp(this.#leaderOf.get(partition)));
      }),
    );
  }

  /** Connects once; a failed attempt is forgotten so the next send tries again. */
  connect(): Promise<void> {
    this.#connecting ??= this.#producer.connect().catch((err: unknown) => {
      this.#connecting = undefined;
      throw err;
    });
    return this.#connecting;
  }

  async disconnect(): Promise<void> {
    await this.flush();
    this.#suspect = false;
    for (const p of this.#partitionQueues.values()) p.suspect = false;
    await this.#admin.disconnect().catch(() => undefined);
    await this.#producer.disconnect();
  }

  /** Resolves once the broker has acknowledged the message (acks=all). */
  publish(key: string, value: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiting = { message: { key, value }, resolve, reject };
      if (this.#partitionCount === undefined) {
        this.#unplaced.push(waiting);
        if (!this.#placing) void this.#place();
      } else this.#enqueue(this.#partitionOf(key, this.#partitionCount), [waiting]);
    });
  }

  /** Waits until everything queued so far has been sent or has failed. */
  async flush(): Promise<void> {
    while (
      this.#placing ||
      this.#unplaced.length > 0 ||
      this.#draining.size > 0 ||
      [...this.#partitionQueues.values()].some((p) => p.queue.length > 0)
    ) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** The first messages wait for the partition count, which the partitioner needs to place a key. */
  async #place(): Promise<void> {
    this.#placing = true;
    try {
      while (this.#unplaced.length > 0) {
        let count: number;
        try {
          await withTimeout(this.connect(), this.#sendTimeoutMs);
          count = await withTimeout(this.#fetchPartitionCount(), this.#sendTimeoutMs);
        } catch (err) {
          const batch = this.#unplaced.splice(0);
          this.#observer?.sent(0, batch.length, false);
          this.#suspect = true;
          this.#startProbing();
          for (const w of batch) w.reject(err as Error);
          continue;
        }
        this.#partitionCount = count;
        const batch = this.#unplaced.splice(0);
        const byPartition = new Map<number, Waiting[]>();
        for (const w of batch) {
          const partition = this.#partitionOf(w.message.key as string, count);
          const waiting = byPartition.get(partition);
          if (waiting) waiting.push(w);
          else byPartition.set(partition, [w]);
        }
        for (const [partition, waiting] of byPartition) this.#enqueue(partition, waiting);
      }
    } finally {
      this.#placing = false;
    }
  }

  #enqueue(partition: number, waiting: Waiting[]): void {
    let p = this.#partitionQueues.get(partition);
    if (!p) this.#partitionQueues.set(partition, (p = { queue: [], suspect: false }));
    p.queue.push(...waiting);
    this.#wake(this.#laneOf(partition));
  }

  /** A partition's lane: its leader's node id, or a lane of its own (below zero) while no leader is known. */
  #laneOf(partition: number): number {
    return this.#leaderOf.get(partition) ?? -1 - partition;
  }

  #wake(lane: number): void {
    if (!this.#draining.has(lane)) void this.#drain(lane);
  }

  /** Partitions whose leader moved while they had messages waiting now wait on another lane: wake it. */
  #learnLeaders(partitions: readonly { partitionId: number; leader: number }[]): void {
    this.#leadersAskedAt = Date.now();
    for (const { partitionId, leader } of partitions) if (leader >= 0) this.#leaderOf.set(partitionId, leader);
    for (const [partition, p] of this.#partitionQueues) if (p.queue.length > 0) this.#wake(this.#laneOf(partition));
  }

  /** Leaders also move without a send failing (a broker back and made preferred leader again). */
  #refreshLeadersIfOld(): void {
    if (this.#askingLeaders || Date.now() - this.#leadersAskedAt < LEADER_REFRESH_MS) return;
    this.#askingLeaders = true;
    void withTimeout(this.#askPartitions(), this.#sendTimeoutMs)
      // A stale map costs isolation, never a message: asked again at the next send.
      .catch(() => (this.#leadersAskedAt = Date.now()))
      .finally(() => (this.#askingLeaders = false));
  }

  /**
   * Takes the lane's next request: every partition on it with messages waiting, in arrival order
   * within each, at most maxBatch messages shared evenly so a hot partition does not starve the rest.
   */
  #take(lane: number): Map<number, Waiting[]> {
    const ready = [...this.#partitionQueues].filter(([partition, p]) => p.queue.length > 0 && this.#laneOf(partition) === lane);
    const share = Math.max(1, Math.floor(this.#maxBatch / Math.max(1, ready.length)));
    return new Map(ready.map(([partition, p]) => [partition, p.queue.splice(0, share)]));
  }

  async #drain(lane: number): Promise<void> {
    this.#draining.add(lane);
    try {
      // An idle lane is woken by the first message of a batch of admissions, which publishes the
      // rest in the same turn of the event loop: wait for the turn to end, so they all leave in
      // this request instead of the first alone and the rest one round trip later.
      await new Promise((resolve) => setImmediate(resolve));
      for (let batch = this.#take(lane); batch.size > 0; batch = this.#take(lane)) {
        const waiting = [...batch.values()].flat();
        try {
          await withTimeout(this.connect(), this.#sendTimeoutMs);
        } catch (err) {
          this.#observer?.sent(0, waiting.length, false);
          this.#suspect = true;
          this.#startProbing();
          for (const w of waiting) w.reject(err as Error);
          continue;
        }
        this.#refreshLeadersIfOld();
        const producer = this.#producer;
        this.#sending.set(producer, (this.#sending.get(producer) ?? 0) + 1);
        const started = performance.now();
        try {
          const written = writtenPartitions(
            await withTimeout(
              producer.send({
                topic: this.#topic,
                acks: -1,
                timeout: this.#sendTimeoutMs,
                compression: CompressionTypes.None,
                messages: [...batch].flatMap(([partition, ws]) => ws.map((w) => ({ ...w.message, partition }))),
              }),
              this.#sendTimeoutMs,
            ),
            this.#topic,
          );
          let unwritten = 0;
          for (const [partition, ws] of batch) {
            if (written.has(partition)) {
              this.#partitionQueues.get(partition)!.suspect = false;
              for (const w of ws) w.resolve();
            } else {
              unwritten += ws.length;
              this.#failed(partition, ws, new Error(`Kafka did not acknowledge partition ${partition} of the send`));
            }
          }
          this.#observer?.sent((performance.now() - started) / 1000, waiting.length - unwritten, true);
          if (unwritten > 0) {
            this.#observer?.sent(0, unwritten, false);
            this.#replaceProducer(producer);
          }
        } catch (err) {
          this.#observer?.sent((performance.now() - started) / 1000, waiting.length, false);
          this.#replaceProducer(producer);
          for (const [partition, ws] of batch) this.#failed(partition, ws, err as Error);
        } finally {
          this.#sending.set(producer, (this.#sending.get(producer) ?? 1) - 1);
          this.#disconnectIfIdle(producer);
        }
      }
    } finally {
      this.#draining.delete(lane);
    }
  }

  #failed(partition: number, waiting: Waiting[], err: Error): void {
    this.#partitionQueues.get(partition)!.suspect = true;
    this.#startProbing();
    for (const w of waiting) w.reject(err);
  }

  /** The topic's partitions as the cluster names them now; each partition's leader is learnt on the way. */
  async #askPartitions(): Promise<PartitionMetadata[]> {
    await this.#admin.connect();
    const { topics } = await this.#admin.fetchTopicMetadata({ topics: [this.#topic] });
    const partitions = topics[0]?.partitions ?? [];
    this.#learnLeaders(partitions);
    return partitions;
  }

  /** The topic's partition count, asked once: the partitioner needs it to place each key. */
  #fetchPartitionCount(): Promise<number> {
    this.#partitions ??= (async () => {
      const count = (await this.#askPartitions()).length;
      if (count === 0) throw new Error(`topic ${this.#topic} has no partitions`);
      return count;
    })().catch((err: unknown) => {
      this.#partitions = undefined;
      throw err;
    });
    return this.#partitions;
  }

  /**
   * The partition the producer's own partitioner gives a key, as a send without one would. Keys are
   * coupon ids, a few of them hot in a spike: each is hashed once (a bounded number remembered).
   */
  #partitionOf(key: string, partitions: number): number {
    if (this.#partitionMetadata.length !== partitions) {
      this.#partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [], isr: [] }));
      this.#partitionOfKey.clear();
    }
    let partition = this.#partitionOfKey.get(key);
    if (partition === undefined) {
      partition = this.#partitioner({
        topic: this.#topic,
        partitionMetadata: this.#partitionMetadata as never,
        message: { key, value: null },
      });
      if (this.#partitionOfKey.size >= REMEMBERED_KEYS) this.#partitionOfKey.clear();
      this.#partitionOfKey.set(key, partition);
    }
    return partition;
  }
}

/**
 * The partitions of `topic` a send's answer says were written. kafkajs returns one entry per
 * partition from each broker's answer, and throws on an error code rather than return it.
 */
export function writtenPartitions(answer: readonly RecordMetadata[], topic: string): Set<number> {
  const written = new Set<number>();
  for (const r of answer) if (r.topicName === topic && r.errorCode === 0) written.add(r.partition);
  return written;
}

/** Whether something accepts a TCP connection at host:port within `ms`. */
function reachable(host: string, port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(ms, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Kafka send not acknowledged within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
