/**
 * k6 threshold expressions ("p(95)<1000", "rate<0.05", "count==0") on k6 metric names with tag
 * filters ("http_req_duration{scenario:load}"), evaluated over a Recorder's requests.
 */
import type { MetricSummary, Recorder, SampleFilter } from './recorder.ts';
import type { ThresholdSpec } from './scenario.ts';
import { percentile } from './stats.ts';

export const METRICS = ['http_req_duration', 'http_req_failed', 'http_reqs', 'http_5xx', 'iterations', 'dropped_iterations'] as const;
export type MetricName = (typeof METRICS)[number];
const TAGS = ['scenario', 'status', 'expected_response'] as const;

const AGGREGATES: Record<MetricName, RegExp> = {
  http_req_duration: /^(avg|min|max|med|p\(\d+(?:\.\d+)?\))$/,
  http_req_failed: /^(rate)$/,
  http_reqs: /^(count|rate)$/,
  http_5xx: /^(count|rate)$/,
  iterations: /^(count|rate)$/,
  dropped_iterations: /^(count|rate)$/,
};

export type Op = '<' | '<=' | '>' | '>=' | '==' | '===' | '!=';

export interface Threshold {
  /** The key as written, e.g. "http_req_duration{scenario:load}". */
  key: string;
  metric: MetricName;
  filter: SampleFilter;
  expression: string;
  aggregate: string;
  op: Op;
  value: number;
}

export interface ThresholdResult {
  key: string;
  expression: string;
  actual: number;
  ok: boolean;
}

export function parseMetricKey(key: string): { metric: MetricName; filter: SampleFilter } {
  const m = /^([a-z_0-9]+)(?:\{([^}]*)\})?$/.exec(key.trim());
  if (!m) throw new Error(`threshold metric "${key}": expected name or name{tag:value}`);
  const metric = m[1] as MetricName;
  if (!METRICS.includes(metric)) throw new Error(`threshold metric "${m[1]}" is not one the local runner measures (${METRICS.join(', ')})`);
  const filter: SampleFilter = {};
  if (m[2] !== undefined) {
    for (const part of m[2].split(',')) {
      const [tag, ...rest] = part.split(':');
      const name = tag!.trim() as (typeof TAGS)[number];
      if (!TAGS.includes(name) || rest.length === 0)
        throw new Error(`threshold metric "${key}": tag filters may use ${TAGS.join(', ')}, as tag:value`);
      filter[name] = rest.join(':').trim();
    }
  }
  return { metric, filter };
}

export function parseExpression(expression: string, metric: MetricName): { aggregate: string; op: Op; value: number } {
  const m = /^\s*([a-z]+(?:\(\s*\d+(?:\.\d+)?\s*\))?)\s*(<=|>=|===|==|!=|<|>)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$/.exec(expression);
  if (!m) throw new Error(`threshold "${expression}": expected e.g. "p(95)<1000", "rate<0.05", "count==0"`);
  const aggregate = m[1]!.replace(/\s+/g, '');
  if (!AGGREGATES[metric].test(aggregate)) throw new Error(`threshold "${expression}": ${metric} has no "${aggregate}"`);
  return { aggregate, op: m[2] as Op, value: Number(m[3]) };
}

export function parseThresholds(spec: Record<string, ThresholdSpec[]>): Threshold[] {
  const out: Threshold[] = [];
  for (const [key, list] of Object.entries(spec)) {
    const { metric, filter } = parseMetricKey(key);
    for (const item of list) {
      const expression = typeof item === 'string' ? item : item.threshold;
      out.push({ key, metric, filter, expression, ...parseExpression(expression, metric) });
    }
  }
  return out;
}

export function compare(actual: number, op: Op, value: number): boolean {
  switch (op) {
    case '<':
      return actual < value;
    case '<=':
      return actual <= value;
    case '>':
      return actual > value;
    case '>=':
      return actual >= value;
    case '==':
    case '===':
      return actual === value;
    case '!=':
      return actual !== value;
  }
}

/** The aggregate's value from a metric summary (p(N) from the sorted durations). */
export function aggregateOf(t: Threshold, m: MetricSummary, sortedDurations: () => Float64Array): number {
  switch (t.metric) {
    case 'http_req_duration': {
      const d = m.http_req_duration;
      if (t.aggregate === 'avg') return d.avg;
      if (t.aggregate === 'min') return d.min;
      if (t.aggregate === 'max') return d.max;
      if (t.aggregate === 'med') return d.med;
      return percentile(sortedDurations(), Number(/\(([^)]+)\)/.exec(t.aggregate)![1]));
    }
    case 'http_req_failed':
      return m.http_req_failed.rate;
    case 'http_reqs':
      return t.aggregate === 'count' ? m.http_reqs.count : m.http_reqs.rate;
    case 'http_5xx':
    case 'iterations':
    case 'dropped_iterations': {
      const count = m[t.metric].count;
      return t.aggregate === 'count' ? count : count / m.seconds;
    }
  }
}

export function evaluateThresholds(thresholds: Threshold[], recorder: Recorder): ThresholdResult[] {
  return thresholds.map((t) => {
    const summary = recorder.metrics(t.filter);
    const actual = aggregateOf(t, summary, () => recorder.durations(t.filter));
    return { key: t.key, expression: t.expression, actual, ok: compare(actual, t.op, t.value) };
  });
}
