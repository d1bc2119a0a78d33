import { AggregatorRegistry, type Counter, Registry, collectDefaultMetrics } from 'prom-client';
import type { RegistryJson } from './api-metrics.ts';
import { restartsCounter } from './process-metrics.ts';

/** One process's registries as ApiMetrics.snapshot gives them: the main thread's first. */
export type ProcessSnapshot = RegistryJson[];

type Aggregatable = Parameters<typeof AggregatorRegistry.aggregate>[0];

/**
 * The API's metrics when it runs as several processes (API_PROCESSES > 1), kept by the cluster's
 * primary: every process's last snapshot, merged into the one /metrics on PORT with the primary's
 * own (its CPU and memory are the API's too, and it counts the restarts). Counters and histograms
 * are summed; gauges by their `aggregator` (summed unless the metric says otherwise).
 *
 * Summing alone would break every counter when a process dies: the sum drops by what the dead one
 * had counted, and Prometheus reads any drop as a reset to zero (a rate() spike of the whole
 * remainder). So what a process had counted when it was last seen stays in the sums after it is
 * gone (`retire`); only what it counted after its last snapshot is lost.
 */
export class ClusterMetrics {
  readonly registry = new Registry();
  readonly restarts: Counter<'role'>;
  readonly #last = new Map<number, ProcessSnapshot>();
  /** The counters and histograms of processes gone, summed into one registry's JSON. */
  #retired: RegistryJson = [];
  #retiring = Promise.resolve();
  readonly #gone = new Set<number>();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.restarts = restartsCounter(this.registry);
  }

  /** A process's snapshot, as it answered: used until it answers again. Ids are never reused. */
  update(id: number, snapshot: ProcessSnapshot): void {
    // An answer that arrives after its process was retired would count it twice.
    if (!this.#gone.has(id)) this.#last.set(id, snapshot);
  }

  /**
   * A process is gone: its gauges go with it, what it counted stays in the sums. Its snapshot is
   * in the merge until the fold is done, and folds run one after another, so no scrape in between
   * sees the sums drop.
   */
  retire(id: number): Promise<void> {
    this.#gone.add(id);
    this.#retiring = this.#retiring.then(async () => {
      const last = this.#last.get(id);
      if (!last) return;
      // The type is a string at run time ('counter'), whatever prom-client's declarations say.
      const counted = last.map((registry) => registry.filter((m) => ['counter', 'histogram'].includes(String(m.type))));
      const folded = AggregatorRegistry.aggregate([this.#retired, ...counted] as Aggregatable);
      this.#retired = (await folded.getMetricsAsJSON()) as RegistryJson;
      this.#last.delete(id);
    });
    return this.#retiring;
  }

  /** Prometheus text: every process as last seen, the retired counts, and the primary's own. */
  async render(): Promise<string> {
    const own = (await this.registry.getMetricsAsJSON()) as RegistryJson;
    const processes = latestReconciliations([...this.#last.values()]);
    return AggregatorRegistry.aggregate([own, this.#retired, ...processes.flat()] as Aggregatable).metrics();
  }
}

/**
 * reconciliation_consistent is the result of the last run per coupon, and each process holds the
 * results of the runs it served: of a coupon's results only the one with the latest
 * reconciliation_last_run_timestamp_seconds is kept, so neither an old failure nor an old success
 * in another process hides what the last run found. Returns copies; the snapshots are left alone.
 */
export function latestReconciliations(processes: ProcessSnapshot[]): ProcessSnapshot[] {
  const latest = new Map<string, { process: number; at: number }>();
  processes.forEach((registries, process) => {
    for (const m of registries.flat()) {
      if (m.name !== 'reconciliation_last_run_timestamp_seconds') continue;
      for (const { labels, value } of m.values) {
        const coupon = String(labels.coupon_id);
        if (value > (latest.get(coupon)?.at ?? Number.NEGATIVE_INFINITY)) latest.set(coupon, { process, at: value });
      }
    }
  });
  return processes.map((registries, process) =>
    registries.map((registry) =>
      registry.map((m) =>
        m.name === 'reconciliation_consistent'
          ? { ...m, values: m.values.filter((v) => latest.get(String(v.labels.coupon_id))?.process === process) }
          : m,
      ),
    ),
  );
}
