import { Piscina } from 'piscina';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { AdmissionOutcome, AdmissionRequest } from '../admission/outcome.ts';
import type { Config } from '../config.ts';
import { shardOf } from './hash.ts';

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
  /** Requests a worker may have in progress at once (they mostly wait on Redis and Kafka). */
  concurrentBatches?: number;
}

const WORKER = new URL('../../workers/shard.ts', import.meta.url).href;

/**
 * Routes each issue request to the worker thread that owns its coupon: one single-thread Piscina
 * pool per shard, so ownership is structural rather than a scheduling hint. Requests that arrive in
 * the same turn of the event loop travel to a shard together as one message, which keeps the cost
 * of the thread hop per request small under a spike.
 */
export class ShardRouter {
  readonly #pools: Piscina[];
  readonly #pending: Waiting[][];
  readonly #scheduled: boolean[];
  readonly #maxBatch: number;

  constructor({ config, shards, maxBatch = 256, concurrentBatches = 64 }: ShardRouterOptions) {
    this.#maxBatch = maxBatch;
    this.#pools = Array.from({ length: shards }, (_, shard) => new Piscina({
      filename: WORKER,
      minThreads: 1,
      maxThreads: 1,
      concurrentTasksPerWorker: concurrentBatches,
      // Worker tasks wait on I/O: the worker's event loop must stay free between tasks.
      atomics: 'disabled',
      idleTimeout: Number.POSITIVE_INFINITY,
      maxQueue: 'auto',
      workerData: { shard, config },
    }));
    this.#pending = this.#pools.map(() => []);
    this.#scheduled = this.#pools.map(() => false);
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
    for (let shard = 0; shard < this.#pools.length; shard++) this.#flush(shard);
    await Promise.all(this.#pools.map(async (pool) => {
      await pool.run(null, { name: 'close' }).catch(() => undefined);
      await pool.close();
    }));
  }

  #flush(shard: number): void {
    this.#scheduled[shard] = false;
    const pending = this.#pending[shard]!;
    while (pending.length > 0) {
      const batch = pending.splice(0, this.#maxBatch);
      const pool = this.#pools[shard]!;
      (pool.run(batch.map((w) => w.request), { name: 'admit' }) as Promise<AdmissionOutcome[]>).then(
        (outcomes) => batch.forEach((w, i) => w.resolve(outcomes[i]!)),
        (err: Error) => batch.forEach((w) => w.reject(err)),
      );
    }
  }
}
