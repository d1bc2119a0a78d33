import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Metrics recorded inside a shard worker. Each worker has its own registry; the API merges them
 * with the main thread's into one /metrics (api-metrics.ts), and across processes (cluster-metrics.ts). The coupon id is a label (a
 * handful of coupons are live at once); the user never is. It takes plain values (a result is the
 * outcome's name), and `sent` has the shape of the issue producer's observer, so it can be one.
 */
export class AdmissionMetrics {
  readonly registry = new Registry();
  readonly #outcomes: Counter<'coupon_id' | 'result'>;
  readonly #remaining: Gauge<'coupon_id'>;
  readonly #script: Histogram<'script'>;
  readonly #produce: Histogram<'topic'>;
  readonly #produced: Counter<'topic' | 'result'>;
  readonly #batch: Histogram<'shard'>;
  readonly #batchSize: Histogram<'shard'>;
  readonly #fallbacks: Counter<'cache' | 'reason'>;
  #directorySize: () => number = () => 0;
  readonly #shard: string;
  readonly #topic: string;

  constructor(shard: number, topic: string) {
    this.#shard = String(shard);
    this.#topic = topic;
    const registers = [this.registry];
    const size = () => this.#directorySize();
    new Gauge({
      name: 'user_directory_entries',
      help: 'Users the shard workers keep in memory (bounded by USER_CACHE_MAX each), summed over workers.',
      registers,
      collect() {
        this.set(size());
      },
    });
    this.#outcomes = new Counter({
      name: 'coupon_admissions_total',
      help: 'Issue requests answered by the shard workers, by coupon and result.',
      labelNames: ['coupon_id', 'result'],
      registers,
    });
    this.#remaining = new Gauge({
      name: 'coupon_stock_remaining',
      help: 'Units left per coupon, as last seen by its owning shard.',
      labelNames: ['coupon_id'],
      // Every API process has an owner of the coupon: the lowest is the latest (stock only shrinks
      // during an event), as the recording rule coupon_id:coupon_stock_remaining:min also reads it.
      aggregator: 'min',
      registers,
    });
    this.#script = new Histogram({
      name: 'redis_script_duration_seconds',
      help: 'Latency of the admission Lua scripts, one call per batch.',
      labelNames: ['script'],
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.#produce = new Histogram({
      name: 'kafka_produce_duration_seconds',
      help: 'Time from sending a batch of issue events to the broker acknowledging it (acks=all).',
      labelNames: ['topic'],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.#produced = new Counter({
      name: 'kafka_produced_messages_total',
      help: 'Issue events sent to Kafka, by result (ok or failed).',
      labelNames: ['topic', 'result'],
      registers,
    });
    // From 0, so the first failed send shows as an increase() rather than a series born at 1.
    for (const result of ['ok', 'failed']) this.#produced.inc({ topic, result }, 0);
    this.#batch = new Histogram({
      name: 'shard_batch_duration_seconds',
      help: 'Work time of one batch of issue requests inside a shard worker.',
      labelNames: ['shard'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    });
    this.#batchSize = new Histogram({
      name: 'shard_batch_size',
      help: 'Issue requests carried by one message to a shard worker.',
      labelNames: ['shard'],
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers,
    });
    this.#fallbacks = new Counter({
      name: 'cache_fallbacks_total',
      help: 'Reads that Redis could not answer and the database answered instead.',
      labelNames: ['cache', 'reason'],
      registers,
    });
  }

  /** `count` requests of the coupon answered `result`. */
  outcome(couponId: number, result: string, count = 1): void {
    this.#outcomes.inc({ coupon_id: String(couponId), result }, count);
  }

  remaining(couponId: number, units: number): void {
    this.#remaining.set({ coupon_id: String(couponId) }, Math.max(0, units));
  }

  script(name: string, seconds: number): void {
    this.#script.observe({ script: name }, seconds);
  }

  batch(seconds: number, size: number): void {
    this.#batch.observe({ shard: this.#shard }, seconds);
    this.#batchSize.observe({ shard: this.#shard }, size);
  }

  fallback(cache: string, reason: string): void {
    this.#fallbacks.inc({ cache, reason });
  }

  sent(seconds: number, messages: number, ok: boolean): void {
    if (ok) this.#produce.observe({ topic: this.#topic }, seconds);
    this.#produced.inc({ topic: this.#topic, result: ok ? 'ok' : 'failed' }, messages);
  }

  /** Reports the user directory's size at each scrape. */
  watchUserDirectory(size: () => number): void {
    this.#directorySize = size;
  }
}
