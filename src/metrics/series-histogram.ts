import type { MetricObjectWithValues, MetricValueWithName } from 'prom-client';

/** A histogram as prom-client's getMetricsAsJSON gives it: cumulative buckets, then sum and count, per label set. */
export type HistogramJson = MetricObjectWithValues<MetricValueWithName<string>>;

/** One label set's observations: what the hot path holds and calls. */
export class HistogramSeries {
  readonly labels: Record<string, string>;
  readonly #bounds: readonly number[];
  /** Observations per bucket, not cumulative; the last is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(labels: Record<string, string>, bounds: readonly number[]) {
    this.labels = labels;
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/**
 * A labelled histogram whose observations are kept in plain arrays, one series per label set, and
 * written into the registry's JSON when it is scraped. prom-client validates and hashes the labels
 * on every observation, even through `labels()` (about a microsecond, measured), and the request
 * path observes on every answer; a series found once costs a bucket search and three adds. The
 * prom-client histogram of the same name stays registered, never observed, for its name, help
 * and type: `writeInto` fills its JSON with what prom-client itself would have written.
 */
export class SeriesHistogram {
  readonly name: string;
  readonly #bounds: readonly number[];
  readonly #series: HistogramSeries[] = [];

  constructor(name: string, bounds: readonly number[]) {
    this.name = name;
    this.#bounds = bounds;
  }

  /** The series of `labels`, made on first use: callers keep it rather than ask again per observation. */
  series(labels: Record<string, string>): HistogramSeries {
    const same = this.#series.find((s) => sameLabels(s.labels, labels));
    if (same) return same;
    const made = new HistogramSeries({ ...labels }, this.#bounds);
    this.#series.push(made);
    return made;
  }

  /** Adds every series with observations to `json` (this histogram's entry of getMetricsAsJSON). */
  writeInto(json: HistogramJson): void {
    for (const s of this.#series) {
      if (s.count === 0) continue;
      let cumulative = 0;
      s.counts.forEach((n, i) => {
        cumulative += n;
        const le = i < this.#bounds.length ? this.#bounds[i]! : '+Inf';
        json.values.push({ labels: { le, ...s.labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      json.values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      json.values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
  }
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
