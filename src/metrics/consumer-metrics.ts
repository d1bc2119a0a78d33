import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { registerCapacityMetrics } from './capacity.ts';

/** Metrics of the consumer process, served on its own /metrics (CONSUMER_METRICS_PORT). */
export class ConsumerMetrics {
  readonly registry = new Registry();
  readonly batchSize: Histogram;
  readonly dbWrite: Histogram;
  readonly rows: Counter<'result'>;
  readonly deadLetters: Counter<'reason'>;
  readonly retries: Counter<'kind'>;
  readonly lag: Gauge<'topic' | 'partition'>;
  readonly restarts: Counter<'reason'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    registerCapacityMetrics(this.registry);
    this.batchSize = new Histogram({
      name: 'consumer_batch_size',
      help: 'Messages per batch handed to the consumer.',
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
      registers,
    });
    this.dbWrite = new Histogram({
      name: 'consumer_db_write_duration_seconds',
      help: 'Time of one database transaction writing a batch of issuances.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.rows = new Counter({
      name: 'consumer_rows_written_total',
      help: 'Issuance events handled: inserted as a row, duplicate (already a row), or skipped (released).',
      labelNames: ['result'],
      registers,
    });
    this.deadLetters = new Counter({
      name: 'consumer_dead_letters_total',
      help: 'Messages sent to the dead-letter topic, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.retries = new Counter({
      name: 'consumer_retries_total',
      help: 'Batch attempts that failed and were retried, by kind (transient, message, or commit: the batch is delivered again).',
      labelNames: ['kind'],
      registers,
    });
    // Known label values start at 0, so the first dead letter or retry is an increase() the
    // alerts see, not a new series that appears already at 1.
    for (const reason of ['malformed', 'unknown_coupon', 'unknown_user', 'rejected']) this.deadLetters.inc({ reason }, 0);
    for (const kind of ['transient', 'message', 'commit']) this.retries.inc({ kind }, 0);
    this.restarts = new Counter({
      name: 'consumer_restarts_total',
      help: 'Times the Kafka client was replaced in this process, by reason (stalled: assigned partitions with events waiting and no batch; commit failed: the group coordinator could not be reached).',
      labelNames: ['reason'],
      registers,
    });
    this.restarts.inc({ reason: 'stalled' }, 0);
    this.lag = new Gauge({
      name: 'consumer_lag',
      help: 'Messages behind the partition end, as of the last batch.',
      labelNames: ['topic', 'partition'],
      registers,
    });
  }
}
