import { Piscina } from 'piscina';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { AdmissionOutcome, AdmissionRequest } from '../admission/outcome.ts';
import type { Config } from '../config.ts';
import type { CouponChange } from '../store/coupon-change.ts';
import { shardOf } from './hash.ts';
import { OverloadDetector } from './overload.ts';

export type WorkerMetrics = MetricObjectWithValues<MetricValue<string>>[];

interface Waiting {
  request: AdmissionRequest;
  /** performance.now() when a flush first found no free slot for it: waiting on the worker from then. */
  blockedAt?: number;
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
   * Longest a request may wait here for its worker while the shard is overloaded (see
   * OverloadDetector); older ones are answered UNAVAILABLE without being admitted (0: wait however
   * long it takes). Told to `onShed`.
   */
  maxQueueWaitMs?: number;
  onShed?: (count: number) => void;
}

const SHED: AdmissionOutcome = { result: 'UNAVAILABLE', retryAfterSeconds: 1 };

const WORKER = new URL('../../workers/shard.ts', import.meta.url).href;

/**
 * Routes each issue request to the worker thread that owns its coupon: one single-thread Piscina
 * pool per shard, so ownership is structural rather than a scheduling hint. Requests that arrive in
 * the same turn of the event loop travel to a shard together as one message, which keeps the cost
 * of the thread hop per request small under a spike. A shard has at most `concurrentBatches`
 * messages in progress; requests arriving beyond that wait here and leave together when one comes
 * back, so batches grow with the load instead of the worker's queue. Waiting here is also where a
 * flood beyond the worker's capacity shows: once the queue stands (overload, not a burst), a
 * request that waited longer than `maxQueueWaitMs` is shed (UNAVAILABLE, nothing taken) so the
 * latency of those admitted stays bounded.
 */
export class ShardRouter {
  readonly #pools: Piscina[];
  readonly #pending: Waiting[][];
  readonly #scheduled: boolean[];
  /** Admit tasks out per shard (their count is what concurrentBatches limits). */
  readonly #running: Set<Promise<void>>[];
  readonly #overload: OverloadDetector[];
  readonly #maxBatch: number;
  readonly #concurrentBatches: number;
  readonly #maxQueueWaitMs: number;
  readonly #onShed: (count: number) => void;

  constructor({ config, shards, maxBatch = 256, concurrentBatches = 16, maxQueueWaitMs = 0, onShed = () => undefined }: ShardRouterOptions) {
    this.#maxBatch = maxBatch;
    this.#concurrentBatches = concurrentBatches;
    this.#maxQueueWaitMs = maxQueueWaitMs;
    this.#onShed = onShed;
    this.#pools = Array.from({ length: shards }, (_, shard) => new Piscina({
      filename: WORKER,
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
    }));
    this.#pending = this.#pools.map(() => []);
    this.#scheduled = this.#pools.map(() => false);
    this.#running = this.#pools.map(() => new Set());
    this.#overload = this.#pools.map(() => new OverloadDetector());
  }

  get shards(): number {
    return this.#pools.length;
  }

  admit(request: AdmissionRequest): Promise<AdmissionOutcome> {
    const shard = shardOf(request.couponId, this.#pools.length);
    return new Promise((resolve, reject) => {
      this.#pending[shard]!.push({ request, resolve, reject });
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
    const states = await Promise.all(this.#pools.map((pool) => pool.run(null, { name: 'readiness' }) as Promise<{ redis: boolean; kafka: boolean }>));
    return states.every((s) => s.redis && s.kafka);
  }

  /** Each worker's metrics, as JSON for AggregatorRegistry.aggregate. */
  workerMetrics(): Promise<WorkerMetrics[]> {
    return Promise.all(this.#pools.map((pool) => pool.run(null, { name: 'metricsJson' }) as Promise<WorkerMetrics>));
  }

  /** Lets queued work finish, flushes each worker's producer, then stops the threads. */
  async close(): Promise<void> {
    await Promise.all(this.#pools.map(async (pool, shard) => {
      const running = this.#running[shard]!;
      while (this.#pending[shard]!.length > 0 || running.size > 0) {
        this.#flush(shard);
        await Promise.race(running);
      }
      await pool.run(null, { name: 'close' }).catch(() => undefined);
      await pool.close();
    }));
  }

  #flush(shard: number): void {
    this.#scheduled[shard] = false;
    const pending = this.#pending[shard]!;
    const pool = this.#pools[shard]!;
    const now = performance.now();
    const overload = this.#overload[shard]!;
    if (this.#maxQueueWaitMs > 0 && overload.overloaded(now)) {
      // Oldest first: shed from the head while it has waited too long for a free slot. Time spent
      // before a flush could run (a busy event loop) does not count: that is not the worker's
      // backlog, and shedding for it would refuse everything once the main thread is loaded.
      const oldest = now - this.#maxQueueWaitMs;
      let stale = 0;
      while (stale < pending.length && pending[stale]!.blockedAt !== undefined && pending[stale]!.blockedAt! < oldest) stale++;
      if (stale > 0) {
        for (const w of pending.splice(0, stale)) w.resolve(SHED);
        this.#onShed(stale);
      }
    }
    const running = this.#running[shard]!;
    while (pending.length > 0 && running.size < this.#concurrentBatches) {
      const batch = pending.splice(0, this.#maxBatch);
      // The batch's last request waited least.
      const newest = batch.at(-1)!.blockedAt;
      overload.dispatched(newest === undefined ? 0 : now - newest);
      const task: Promise<void> = (pool.run(batch.map((w) => w.request), { name: 'admit' }) as Promise<AdmissionOutcome[]>).then(
        (outcomes) => batch.forEach((w, i) => w.resolve(outcomes[i]!)),
        (err: Error) => batch.forEach((w) => w.reject(err)),
      ).finally(() => {
        running.delete(task);
        if (pending.length > 0 && !this.#scheduled[shard]) {
          this.#scheduled[shard] = true;
          setImmediate(() => this.#flush(shard));
        }
      });
      running.add(task);
    }
    if (pending.length === 0) overload.drained();
    // What is left waits for a slot from now on. The marked ones are a prefix (FIFO), so walking
    // back from the tail touches each request once.
    for (let i = pending.length - 1; i >= 0 && pending[i]!.blockedAt === undefined; i--) pending[i]!.blockedAt = now;
  }
}
