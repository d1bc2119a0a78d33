import {
  AggregatorRegistry,
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';
import { registerCapacityMetrics } from './capacity.ts';
import { registerProcessInfo } from './process-metrics.ts';
import { type HistogramJson, type HistogramSeries, SeriesHistogram } from './series-histogram.ts';

/** One registry's metrics as getMetricsAsJSON gives them: what a shard worker sends back. */
export type RegistryJson = MetricObjectWithValues<MetricValue<string>>[];

/** What a reconciliation run tells the metrics: which coupon, and whether it was consistent. */
export interface ReconciliationOutcome {
  couponId: number;
  consistent: boolean;
}

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5];

export type DurationLabels = Record<'route' | 'method' | 'status_code', string>;

export interface ApiMetricsOptions {
  /** Backlog per shard, read at scrape time. */
  queueDepths: () => number[];
  /** Each shard worker's own metrics, merged into the one /metrics. */
  workerMetrics: () => Promise<RegistryJson[]>;
  /** The overload control as it stands, read at scrape time (src/overload/overload-control.ts). */
  overload: () => {
    inFlight: number;
    limit: number;
    throughput: number;
    refusalsHolding: number;
    refusalsHeld: number;
  };
  /**
   * The whole API's metrics in Prometheus text, when this process is one of several (a cluster
   * worker: the primary merges every process's snapshot, src/cli/api-cluster.ts). Unset: this
   * process is the whole API.
   */
  allProcesses?: () => Promise<string>;
}

/** The API process's main-thread metrics, and the merge with its shard workers' registries. */
export class ApiMetrics {
  readonly registry = new Registry();
  readonly reconciliations: Counter<'result'>;
  readonly reconciliationConsistent: Gauge<'coupon_id'>;
  readonly reconciliationLastRun: Gauge<'coupon_id'>;
  readonly cacheFallbacks: Counter<'cache' | 'reason'>;
  readonly shed: Counter<'reason'>;
  readonly rateLimited: Counter<'scope'>;
  readonly #opts: ApiMetricsOptions;
  /**
   * http_request_duration_seconds, observed on every answer (shed ones included, before routing),
   * so kept by hand and written into the registry's JSON at scrape (series-histogram.ts).
   */
  readonly #duration = new SeriesHistogram('http_request_duration_seconds', DURATION_BUCKETS);
  /**
   * Its series by route, method and status. Nested maps rather than one joined key: the route and
   * method strings are the same objects every time, with their hashes cached, where a joined key
   * would be a new string to hash on every request.
   */
  readonly #durationSeries = new Map<string, Map<string, Map<number, HistogramSeries>>>();
  /** issue_queue_wait_seconds, observed for every issue request: kept the same way. */
  readonly #queueWait = new SeriesHistogram('issue_queue_wait_seconds', DURATION_BUCKETS);
  readonly #queueWaitSeries = this.#queueWait.series({});
  /** Requests shed by the in-flight limit since the last scrape, added to http_requests_shed_total then. */
  #inFlightShedPending = 0;
  /** Issue requests shed at the intake by the event-loop backstop since the last scrape, the same way. */
  #eventLoopShedPending = 0;

  constructor(opts: ApiMetricsOptions) {
    this.#opts = opts;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    registerCapacityMetrics(this.registry);
    registerProcessInfo(this.registry);
    // Registered for its name, help and type, and never observed: #duration holds the counts.
    new Histogram({
      name: this.#duration.name,
      help: 'HTTP request duration by route template, method and status.',
      labelNames: ['route', 'method', 'status_code'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.reconciliations = new Counter({
      name: 'reconciliation_runs_total',
      help: 'Coupon reconciliations, by result (consistent or inconsistent).',
      labelNames: ['result'],
      registers,
    });
    this.reconciliationConsistent = new Gauge({
      name: 'reconciliation_consistent',
      help: '1 when the last reconciliation of the coupon found Redis and the database agreeing.',
      labelNames: ['coupon_id'],
      registers,
    });
    // Several processes may each hold a result for a coupon: the merge keeps the latest (cluster-metrics.ts).
    this.reconciliationLastRun = new Gauge({
      name: 'reconciliation_last_run_timestamp_seconds',
      help: 'When the last reconciliation of the coupon ran (Unix time).',
      labelNames: ['coupon_id'],
      aggregator: 'max',
      registers,
    });
    this.cacheFallbacks = new Counter({
      name: 'cache_fallbacks_total',
      help: 'Reads that Redis could not answer and the database answered instead.',
      labelNames: ['cache', 'reason'],
      registers,
    });
    const self = this;
    this.shed = new Counter({
      name: 'http_requests_shed_total',
      help: 'Requests refused with 503 to protect latency, by reason (in_flight: past the admission limit; queue_wait: waited past MAX_QUEUE_WAIT_MS; event_loop: the backstop).',
      labelNames: ['reason'],
      registers,
      collect() {
        if (self.#inFlightShedPending > 0) this.inc({ reason: 'in_flight' }, self.#inFlightShedPending);
        if (self.#eventLoopShedPending > 0) this.inc({ reason: 'event_loop' }, self.#eventLoopShedPending);
        self.#inFlightShedPending = 0;
        self.#eventLoopShedPending = 0;
      },
    });
    this.rateLimited = new Counter({
      name: 'http_requests_rate_limited_total',
      help: 'Issue requests refused with 429, by the limit hit (user, ip), or let through because the limiter failed (error).',
      labelNames: ['scope'],
      registers,
    });
    new Gauge({
      name: 'issue_requests_in_flight',
      help: 'Issue requests taken in by this process and not yet answered (waiting for a shard worker or served).',
      registers,
      collect() {
        this.set(opts.overload().inFlight);
      },
    });
    new Gauge({
      name: 'issue_in_flight_limit',
      help: 'The admission limit: measured throughput × latency target (Little); arrivals beyond it are refused (0: no limit).',
      registers,
      collect() {
        this.set(opts.overload().limit);
      },
    });
    new Gauge({
      name: 'issue_throughput_estimate',
      help: 'Issue requests per second the process answered while never idle, best of the last second: what the admission limit is built on.',
      registers,
      collect() {
        this.set(opts.overload().throughput);
      },
    });
    new Gauge({
      name: 'issue_refusals_holding',
      help: 'Refusals held now: their connections came back at once after a refusal, and are answered when its Retry-After has passed.',
      registers,
      collect() {
        this.set(opts.overload().refusalsHolding);
      },
    });
    new Counter({
      name: 'issue_refusals_held_total',
      help: 'Refusals held until their Retry-After because their connection came back at once after a refusal.',
      registers,
      collect() {
        this.reset();
        this.inc(opts.overload().refusalsHeld);
      },
    });
    // The same: #queueWait holds the counts.
    new Histogram({
      name: this.#queueWait.name,
      help: 'How long issue requests waited for their shard worker, from when the process took them in.',
      buckets: DURATION_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'shard_queue_depth',
      help: 'Issue requests waiting for their shard worker.',
      labelNames: ['shard'],
      registers,
      collect() {
        opts.queueDepths().forEach((depth, shard) => {
          this.set({ shard: String(shard) }, depth);
        });
      },
    });
  }

  /** One answered request (called for every request: kept cheap). */
  observeRequest(route: string, method: string, statusCode: number, seconds: number): void {
    let byMethod = this.#durationSeries.get(route);
    if (!byMethod) this.#durationSeries.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let series = byStatus.get(statusCode);
    if (!series) {
      series = this.#duration.series({ route, method, status_code: String(statusCode) });
      byStatus.set(statusCode, series);
    }
    series.observe(seconds);
  }

  /** One issue request shed by the in-flight limit (wherever it was answered). */
  countInFlightShed(): void {
    this.#inFlightShedPending++;
  }

  /** Counts a refusal answered before routing: a shed request on `route`, answered in no time. */
  instantShed(route: string): (reason: 'in_flight' | 'event_loop') => void {
    const countRequest = this.instantRequests({ route, method: 'POST', status_code: '503' });
    return (reason) => {
      countRequest();
      if (reason === 'in_flight') this.#inFlightShedPending++;
      else this.#eventLoopShedPending++;
    };
  }

  /** How long each request of a batch waited for its shard worker. */
  observeQueueWaits(waitsMs: number[]): void {
    for (const ms of waitsMs) this.#queueWaitSeries.observe(ms / 1000);
  }

  /** Counts a request with these labels that took no time (a refusal before routing). */
  instantRequests(labels: DurationLabels): () => void {
    const series = this.#duration.series(labels);
    return () => series.observe(0);
  }

  observeReconciliation(report: ReconciliationOutcome): void {
    this.reconciliations.inc({ result: report.consistent ? 'consistent' : 'inconsistent' });
    this.reconciliationConsistent.set({ coupon_id: String(report.couponId) }, report.consistent ? 1 : 0);
    this.reconciliationLastRun.set({ coupon_id: String(report.couponId) }, Date.now() / 1000);
  }

  /** This process's registries as JSON: the main thread's first, then every shard worker's. */
  async snapshot(): Promise<RegistryJson[]> {
    const [main, workers] = await Promise.all([this.registry.getMetricsAsJSON(), this.#opts.workerMetrics()]);
    for (const histogram of [this.#duration, this.#queueWait]) {
      const json = main.find((m) => m.name === histogram.name);
      if (json) histogram.writeInto(json as HistogramJson);
    }
    return [main as RegistryJson, ...workers];
  }

  /** The whole API in Prometheus text: this process's registries merged, or every process's. */
  async render(): Promise<{ contentType: string; body: string }> {
    if (this.#opts.allProcesses) return { contentType: this.registry.contentType, body: await this.#opts.allProcesses() };
    const merged = AggregatorRegistry.aggregate((await this.snapshot()) as Parameters<typeof AggregatorRegistry.aggregate>[0]);
    return { contentType: this.registry.contentType, body: await merged.metrics() };
  }
}
