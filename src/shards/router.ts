import { Piscina } from 'piscina';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { AdmissionOutcome, AdmissionRequest } from '../admission/outcome.ts';
import type { Config } from '../config.ts';
import type { CouponChange } from '../store/coupon-change.ts';
import { ArrivalQueue } from '../overload/arrival-queue.ts';
import { overloaded } from '../overload/refusal.ts';
import { shardOf } from './hash.ts';
import { forEachOutcome, type OutcomeBatch, type RequestBatch } from './wire.ts';

export type WorkerMetrics = MetricObjectWithValues<MetricValue<string>>[];

interface Waiting {
  request: AdmissionRequest;
  resolve: (outcome: AdmissionOutcome) => void;
  reject: (err: Error) => void;
}

export interface ShardRouterOptions {
  /** The process's configuration, handed to every worker (plain data) so all threads agree. */
  config: Config;
  shards: number;
  /** Most requests per message to a worker. */
  maxBatch?: number;
  /** Batches a worker may have in progress at once (they mostly wait on Redis and Kafka). */
  concurrentBatches?: number;
  /**
   * Longest a request may wait here for its worker (ms, from when the process took it in); older
   * ones are answered UNAVAILABLE without being admitted (0: however long it takes). Told to `onShed`.
   */
  maxQueueWaitMs?: number;
  onShed?: (count: number) => void;
  /** How long (ms) each request of a batch waited for its worker, as the batch leaves. */
  onDispatch?: (waitsMs: number[]) => void;
  /** The worker's file (a URL); workers/shard.ts unless a test brings its own. */
  worker?: string;
}

const SHED: AdmissionOutcome = { result: 'UNAVAILABLE', retryAfterSeconds: overloaded().retryAfterSeconds };

const WORKER = new URL('../../workers/shard.ts', import.meta.url).href;

/**
 * Routes each issue request to the worker thread that owns its coupon: one single-thread Piscina
 * pool per shard, so ownership is structural rather than a scheduling hint. Requests that arrive in
 * the same turn of the event loop travel to a shard together as one message, which keeps the cost
 * of the thread hop per request small under a spike. A shard has at most `concurrentBatches`
 * messages in progress; requests arriving beyond that wait here and leave together when one comes
 * back, so batches grow with the load instead of the worker's queue. They wait in arrival order
 * (src/overload/arrival-queue.ts), bounded by time: how many may wait is decided before they get
 * here (src/overload/admission-limit.ts).
 */
export class ShardRouter {
  readonly #pools: Piscina[];
  readonly #pending: ArrivalQueue<Waiting>[];
  readonly #scheduled: boolean[];
  /** Whether a timer will look at the shard's queue deadline (while every slot is busy). */
  readonly #deadlineArmed: boolean[];
  /** Admit tasks out per shard (their count is what concurrentBatches limits). */
  readonly #running: Set<Promise<void>>[];
  readonly #maxBatch: number;
  readonly #concurrentBatches: number;
  readonly #maxQueueWaitMs: number;
  readonly #onShed: (count: number) => void;
  readonly #onDispatch: (waitsMs: number[]) => void;

  constructor({
    config,
    shards,
    maxBatch = 256,
    concurrentBatches = 16,
    maxQueueWaitMs = 0,
    onShed = () => undefined,
    onDispatch = () => undefined,
    worker = WORKER,
  }: ShardRouterOptions) {
    this.#maxBatch = maxBatch;
    this.#concurrentBatches = concurrentBatches;
    this.#maxQueueWaitMs = maxQueueWaitMs;
    this.#onShed = onShed;
    this.#onDispatch = onDispatch;
    this.#pools = Array.from(
      { length: shards },
      (_, shard) =>
        new Piscina({
          filename: worker,
          minThreads: 1,
          maxThreads: 1,
          concurrentTasksPerWorker: concurrentBatches,
          // Worker tasks wait on I/O: the worker's event loop must stay free between tasks.
          atomics: 'disabled',
          idleTimeout: Number.POSITIVE_INFINITY,
          // The router never has more than concurrentBatches admit tasks out per shard, and the HTTP
          // layer's in-flight limit sheds beyond that; Piscina's own limit ('auto' is 1 task for a
          // one-thread pool) would only turn a worker still starting up into 503s.
          maxQueue: Number.POSITIVE_INFINITY,
          workerData: { shard, config },
        }),
    );
    this.#pending = this.#pools.map(() => new ArrivalQueue<Waiting>());
    this.#scheduled = this.#pools.map(() => false);
    this.#deadlineArmed = this.#pools.map(() => false);
    this.#running = this.#pools.map(() => new Set());
  }

  get shards(): number {
    return this.#pools.length;
  }

  /** `arrivedAt`: when the process took the request in (performance.now() ms); its wait counts from then. */
  admit(request: AdmissionRequest, arrivedAt = performance.now()): Promise<AdmissionOutcome> {
    const shard = shardOf(request.couponId, this.#pools.length);
    return new Promise((resolve, reject) => {
      this.#pending[shard]!.push({ request, resolve, reject }, arrivedAt);
      if (!this.#scheduled[shard]) {
        this.#scheduled[shard] = true;
        setImmediate(() => this.#flush(shard));
      }
    });
  }

  /** Tells the coupon's owner in this process that it changed; resolves once the worker applied it. */
  async couponChanged(change: CouponChange): Promise<void> {
    await this.#pools[shardOf(change.couponId, this.#pools.length)]!.run(change, { name: 'couponChanged' });
  }

  /** Tasks waiting for each shard's worker: the backlog a spike builds. */
  queueDepths(): number[] {
    return this.#pools.map((pool, shard) => pool.queueSize + this.#pending[shard]!.length);
  }

  /** True when every shard worker has Redis and its Kafka producer connected. */
  async ready(): Promise<boolean> {
    const states = await Promise.all(
      this.#pools.map((pool) => pool.run(null, { name: 'readiness' }) as Promise<{ redis: boolean; kafka: boolean }>),
    );
    return states.every((s) => s.redis && s.kafka);
  }

  /** Each worker's metrics, as JSON for AggregatorRegistry.aggregate. */
  workerMetrics(): Promise<WorkerMetrics[]> {
    return Promise.all(this.#pools.map((pool) => pool.run(null, { name: 'metricsJson' }) as Promise<WorkerMetrics>));
  }

  /** Lets queued work finish, flushes each worker's producer, then stops the threads. */
  async close(): Promise<void> {
    await Promise.all(
      this.#pools.map(async (pool, shard) => {
        const running = this.#running[shard]!;
        while (this.#pending[shard]!.length > 0 || running.size > 0) {
          this.#flush(shard);
          await Promise.race(running);
        }
        await pool.run(null, { name: 'close' }).catch(() => undefined);
        await pool.close();
      }),
    );
  }

  #flush(shard: number): void {
    this.#scheduled[shard] = false;
    const pending = this.#pending[shard]!;
    const pool = this.#pools[shard]!;
    const now = performance.now();
    const expired = pending.expire(now, this.#maxQueueWaitMs);
    if (expired.length > 0) {
      for (const w of expired) w.resolve(SHED);
      this.#onShed(expired.length);
    }
    const running = this.#running[shard]!;
    while (pending.length > 0 && running.size < this.#concurrentBatches) {
      const { items: batch, waitsMs } = pending.take(this.#maxBatch, now);
      this.#onDispatch(waitsMs);
      // Built by map: an array made with new Array(n) is holey, and V8 clones a holey array as a
      // sparse one, index by index.
      const requests: RequestBatch = { couponIds: batch.map((w) => w.request.couponId), publicIds: batch.map((w) => w.request.publicId) };
      const task: Promise<void> = (pool.run(requests, { name: 'admit' }) as Promise<OutcomeBatch>)
        .then(
          (outcomes) => forEachOutcome(outcomes, (outcome, i) => batch[i]!.resolve(outcome)),
          (err: Error) => {
            for (const w of batch) w.reject(err);
          },
        )
        .finally(() => {
          running.delete(task);
          if (pending.length > 0 && !this.#scheduled[shard]) {
            this.#scheduled[shard] = true;
            setImmediate(() => this.#flush(shard));
          }
        });
      running.add(task);
    }
    // Requests left waiting with every slot busy: a deadline may pass before a slot frees up.
    if (pending.length > 0 && this.#maxQueueWaitMs > 0 && !this.#deadlineArmed[shard]) {
      this.#deadlineArmed[shard] = true;
      setTimeout(() => {
        this.#deadlineArmed[shard] = false;
        this.#flush(shard);
      }, this.#maxQueueWaitMs).unref();
    }
  }
}
