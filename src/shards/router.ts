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
  /** Batches a worker may have in progress at once (they mostly wait on Redis and Kafka). */
  concurrentBatches?: number;
}

const WORKER = new URL('../../workers/shard.ts', import.meta.url).href;

/**
 * Routes each issue request to the worker thread that owns its coupon: one single-thread Piscina
 * pool per shard, so ownership is structural rather than a scheduling hint. Requests that arrive in
 * the same turn of the event loop travel to a shard together as one message, which keeps the cost
 * of the thread hop per request small under a spike. A shard has at most `concurrentBatches`
 * messages in progress; requests arriving beyond that wait here and leave together when one comes
 * back, so batches grow with the load instead of the worker's queue.
 */
export class ShardRouter {
  readonly #pools: Piscina[];
  readonly #pending: Waiting[][];
  readonly #scheduled: boolean[];
  readonly #inFlight: number[];
  readonly #maxBatch: number;
  readonly #concurrentBatches: number;

  constructor({ config, shards, maxBatch = 256, concurrentBatches = 64 }: ShardRouterOptions) {
    this.#maxBatch = maxBatch;
    this.#concurrentBatches = concurrentBatches;
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
    this.#inFlight = this.#pools.map(() => 0);
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
    await Promise.all(this.#pools.map(async (pool, shard) => {
      while (this.#pending[shard]!.length > 0 || this.#inFlight[shard]! > 0) {
        this.#flush(shard);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await pool.run(null, { name: 'close' }).catch(() => undefined);
      await pool.close();
    }));
  }

  #flush(shard: number): void {
    this.#scheduled[shard] = false;
    const pending = this.#pending[shard]!;
    const pool = this.#pools[shard]!;
    while (pending.length > 0 && this.#inFlight[shard]! < this.#concurrentBatches) {
      const batch = pending.splice(0, this.#maxBatch);
      this.#inFlight[shard]!++;
      (pool.run(batch.map((w) => w.request), { name: 'admit' }) as Promise<AdmissionOutcome[]>).then(
        (outcomes) => batch.forEach((w, i) => w.resolve(outcomes[i]!)),
        (err: Error) => batch.forEach((w) => w.reject(err)),
      ).finally(() => {
        this.#inFlight[shard]!--;
        if (pending.length > 0 && !this.#scheduled[shard]) {
          this.#scheduled[shard] = true;
          setImmediate(() => this.#flush(shard));
        }
      });
    }
  }
}
