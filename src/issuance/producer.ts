import { CompressionTypes, type Admin, type Kafka, type Message, type Producer } from 'kafkajs';
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

interface Waiting {
  message: Message;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * An idempotent, acks=all producer that group-commits: while one produce request is in flight,
 * new messages wait and then leave together in the next request. Under a spike this turns thousands
 * of sends into a few round trips, and each caller's promise still settles only when the broker has
 * acknowledged its own message.
 */
export class IssueEventProducer {
  readonly #kafka: Kafka;
  #producer: Producer;
  readonly #topic: string;
  readonly #maxBatch: number;
  readonly #sendTimeoutMs: number;
  readonly #observer: PublishObserver | undefined;
  readonly #pauseAfterFailureMs: number;
  #queue: Waiting[] = [];
  #inFlight = false;
  #connecting: Promise<void> | undefined;
  #connected = false;
  #suspect = false;
  #probing = false;
  readonly #admin: Admin;
  readonly #partitioner = PARTITIONER();
  #partitions: Promise<number> | undefined;

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
   * again; its replacement gets a new producer id, whose numbering starts apart.
   */
  #replaceProducer(): void {
    const failed = this.#producer;
    this.#producer = this.#newProducer();
    this.#forgetConnection();
    // Its send may still be retrying. Whatever lands from it was released (the consumer skips
    // it) or was consumed first (the admitter then keeps the promise), so it is not waited for.
    void failed.disconnect().catch(() => undefined);
  }

  /** Whether the producer holds a live connection (and, being idempotent, a producer id). */
  get connected(): boolean {
    return this.#connected;
  }

  /**
   * False from a failed send until the broker answers again: callers answer 503 at once instead
   * of each waiting out the send timeout against a broker that is down. A cheap metadata request
   * probes the broker meanwhile, so no issue event is risked on a probe.
   */
  get available(): boolean {
    return !this.#suspect;
  }

  #startProbing(): void {
    if (this.#probing) return;
    this.#probing = true;
    void (async () => {
      while (this.#suspect) {
        try {
          await withTimeout(
            this.#admin.connect().then(() => this.#admin.fetchTopicMetadata({ topics: [this.#topic] })),
            this.#pauseAfterFailureMs,
          );
          await withTimeout(this.connect(), this.#pauseAfterFailureMs);
          this.#suspect = false;
        } catch {
          await new Promise((r) => setTimeout(r, this.#pauseAfterFailureMs / 2));
        }
      }
      this.#probing = false;
    })();
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
    await this.#admin.disconnect().catch(() => undefined);
    await this.#producer.disconnect();
  }

  /** Resolves once the broker has acknowledged the message (acks=all). */
  publish(key: string, value: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ message: { key, value }, resolve, reject });
      if (!this.#inFlight) void this.#drain();
    });
  }

  /** Waits until everything queued so far has been sent or has failed. */
  async flush(): Promise<void> {
    while (this.#inFlight || this.#queue.length > 0) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /**
   * One send per partition, each settling only its own messages. kafkajs 2.2.4 was seen to resolve
   * a send spanning several partitions while some of them, on a leader that died meanwhile, were
   * never written (tulios/kafkajs#1303): a 202 without a row. A send to one partition goes to one
   * leader, so it is written or it fails, and a leader that dies fails only its own partitions.
   */
  async #drain(): Promise<void> {
    this.#inFlight = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#maxBatch);
        let byPartition: Map<number, Waiting[]>;
        try {
          await withTimeout(this.connect(), this.#sendTimeoutMs);
          byPartition = this.#byPartition(batch, await withTimeout(this.#partitionCount(), this.#sendTimeoutMs));
        } catch (err) {
          this.#observer?.sent(0, batch.length, false);
          this.#failed([[batch, err as Error]]);
          continue;
        }
        const failures: [Waiting[], Error][] = [];
        await Promise.all(
          [...byPartition].map(async ([partition, waiting]) => {
            const started = performance.now();
            try {
              await withTimeout(
                this.#producer.send({
                  topic: this.#topic,
                  acks: -1,
                  timeout: this.#sendTimeoutMs,
                  compression: CompressionTypes.None,
                  messages: waiting.map((w) => ({ ...w.message, partition })),
                }),
                this.#sendTimeoutMs,
              );
              this.#observer?.sent((performance.now() - started) / 1000, waiting.length, true);
              for (const w of waiting) w.resolve();
            } catch (err) {
              this.#observer?.sent((performance.now() - started) / 1000, waiting.length, false);
              failures.push([waiting, err as Error]);
            }
          }),
        );
        if (failures.length === 0) this.#suspect = false;
        else this.#failed(failures);
      }
    } finally {
      this.#inFlight = false;
    }
  }

  /** Rejects what failed sends carried, and stops using the producer that failed (see #replaceProducer). */
  #failed(failures: [Waiting[], Error][]): void {
    this.#replaceProducer();
    this.#suspect = true;
    this.#startProbing();
    for (const [waiting, err] of failures) for (const w of waiting) w.reject(err);
  }

  /** The topic's partition count, asked once: the partitioner needs it to place each key. */
  #partitionCount(): Promise<number> {
    this.#partitions ??= (async () => {
      await this.#admin.connect();
      const { topics } = await this.#admin.fetchTopicMetadata({ topics: [this.#topic] });
      const count = topics[0]?.partitions.length ?? 0;
      if (count === 0) throw new Error(`topic ${this.#topic} has no partitions`);
      return count;
    })().catch((err: unknown) => {
      this.#partitions = undefined;
      throw err;
    });
    return this.#partitions;
  }

  /** Messages by the partition the producer's own partitioner gives their key, in order within each. */
  #byPartition(batch: Waiting[], partitions: number): Map<number, Waiting[]> {
    const metadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [], isr: [] }));
    const out = new Map<number, Waiting[]>();
    for (const w of batch) {
      const partition = this.#partitioner({ topic: this.#topic, partitionMetadata: metadata as never, message: w.message });
      let list = out.get(partition);
      if (!list) out.set(partition, (list = []));
      list.push(w);
    }
    return out;
  }
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
