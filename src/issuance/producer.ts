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

  async #drain(): Promise<void> {
    this.#inFlight = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#maxBatch);
        const started = performance.now();
        try {
          await withTimeout(this.connect(), this.#sendTimeoutMs);
          await withTimeout(
            this.#producer.send({
              topic: this.#topic,
              acks: -1,
              timeout: this.#sendTimeoutMs,
              compression: CompressionTypes.None,
              messages: batch.map((w) => w.message),
            }),
            this.#sendTimeoutMs,
          );
          this.#observer?.sent((performance.now() - started) / 1000, batch.length, true);
          this.#suspect = false;
          for (const w of batch) w.resolve();
        } catch (err) {
          this.#observer?.sent((performance.now() - started) / 1000, batch.length, false);
          this.#replaceProducer();
          this.#suspect = true;
          this.#startProbing();
          for (const w of batch) w.reject(err as Error);
        }
      }
    } finally {
      this.#inFlight = false;
    }
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
